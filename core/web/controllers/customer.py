"""The customer's pages: start page, request forms, "our requests", a request, withdrawing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from pydantic import BaseModel

from core.billing.pricing import Estimate, cost_notices
from core.billing.recording import EstimateChanged
from core.models import Office
from core.platform.errors import ValidationFailed
from core.platform.i18n import gettext
from core.requests import attachments, kept_files
from core.requests.attachments import StagedFile
from core.requests.context import form_context_for
from core.requests.display import display_rows
from core.requests.filing import CARRY_OUT_ON
from core.requests.followers import start_following
from core.requests.forms import (
    REFRESH,
    build_fields,
    decode,
    dependants,
    file_fields,
    form_values,
    initial_values,
    narrow,
    offered,
    render_choices,
    walk,
)
from core.requests.lifecycle import Action
from core.requests.queries import follow_up_of, get_request
from core.requests.request_types import RequestType
from core.requests.waiting import newest_waiting, waiting_count
from core.web.common import (
    NOTICES,
    UPLOADS,
    FormBody,
    MultipartBody,
    form_value,
    portal,
    text_fields,
    uploads,
    user,
    viewer,
)
from core.web.downloads import NO_COMPRESSION
from core.web.lists import list_export, list_page
from core.web.rendering import page
from core.web.request_pages import (
    all_fields,
    new_messages,
    post_message,
    request_page,
    serve_attachment,
)
from core.web.types import HttpRequest
from core.web.viewer import require_customer, require_user
from core.workflow import actions as workflow

FOLLOWS_UP = "follows_up"
"""The form's hidden field with the request a new one follows up (``BB-12``); the confirmation page keeps it."""


WAITING_SHOWN = 5
"""The start page names at most this many requests waiting for the customer; the list's filter has them all."""


class HomeController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    guards = [require_user]

    @get("/", sync_to_thread=True)
    def start(self, request: HttpRequest) -> Template | Redirect:
        if user(request).is_staff:
            return Redirect("/staff/queue")
        return _start_page(request, "")


def _start_page(request: HttpRequest, about: str) -> Template:
    """The request types to choose from; ``about`` (``BB-12``) is a request the new one follows up."""
    the_portal, current = portal(request), user(request)
    organisation = viewer(request).organisation
    with the_portal.database.reading() as session:
        office = session.get(Office, organisation.office_id) if organisation else None
        earlier = follow_up_of(session, current, about) if about else None
        waiting = waiting_count(session, current)
        waiting_rows = newest_waiting(session, current, limit=WAITING_SHOWN) if waiting else []
    types = [t for t in the_portal.registry if not t.administrators_only or current.is_org_admin]
    return page(
        "start.html",
        viewer(request),
        types=types,
        office=office,
        organisation=organisation,
        about=earlier,
        waiting=waiting,
        waiting_rows=waiting_rows,
    )


class CustomerController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    guards = [require_customer]

    @get("/requests")
    async def our_requests(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template | Redirect:
        """ "Våra ärenden": all of the organisation's, those filed by me, those waiting for us."""
        return await list_page(
            request, path="/requests", default_view="all", template="requests.html", notice=NOTICES.get(notice, "")
        )

    @get("/requests.csv")
    async def export_requests(self, request: HttpRequest) -> Response[Any]:
        return await list_export(request, default_view="all", name="requests")

    @get("/requests/new", sync_to_thread=True)
    def choose_type(self, request: HttpRequest, about: FromQuery[str] = "") -> Template:
        """The start page's choice of request type, carrying the request a new one is about (a closed one's
        "new request about this", from its page or its last mail)."""
        return _start_page(request, about)

    @get("/requests/new/{type_key:str}", sync_to_thread=True)
    def new_request(self, request: HttpRequest, type_key: FromPath[str], about: FromQuery[str] = "") -> Template:
        """The empty form with the schema's defaults; a field's value in the query (``?system_id=3``) is filled
        in, so a link (or a browser without JavaScript, through a GET) can open the form with a system chosen."""
        request_type = _request_type(request, type_key)
        values: dict[str, Any] = initial_values(build_fields(request_type.schema))
        names = {f.name for f in walk(build_fields(request_type.schema)) if f.kind != "file"}
        for name, value in request.query_params.items():
            if name in names and value:
                values[name] = str(value)[:200]
        if about:
            values[FOLLOWS_UP] = about
        return _request_form(request, request_type, values=values, errors={})

    @post("/requests/new/{type_key:str}", sync_to_thread=True, opt={UPLOADS: True})
    def file_request(self, request: HttpRequest, type_key: FromPath[str], data: MultipartBody) -> Template | Redirect:
        """Send a request. When it costs something or uses the agreement, the customer first sees the cost
        on a confirmation page and sends from there (``estimate`` carries what they saw); otherwise it is filed
        at once. A confirmation whose cost changed meanwhile is shown again instead of being filed.

        Files chosen in the form cannot ride along to a confirmation page (a browser sends a file once). A
        request with files that costs nothing is filed at once (an inclusion in the agreement shows on the
        request page); one that would cost something shows its cost and asks for the files in the chat.
        """
        request_type = _request_type(request, type_key)
        the_portal, current = portal(request), user(request)
        values = form_values(text_fields(data))
        step = str(values.pop("step", ""))
        kept = _kept_files(request, values)
        sent_estimate = values.pop("estimate", None)
        expected = str(sent_estimate) if sent_estimate is not None else None
        confirmed = str(values.pop("confirmed", "") or "")
        fields = build_fields(request_type.schema)
        staged, file_errors = _stage_form_files(request, fields, data, kept)
        every_file = [item for files in staged.values() for item in files]
        if step == "edit":
            return _request_form(request, request_type, values=values, errors={}, kept=staged)
        if step.startswith(REFRESH):  # a choice that others follow ("Välj system"): the form again, nothing filed
            refreshed = step[len(REFRESH) :]
            return _request_form(request, request_type, values=values, errors={}, refreshed=refreshed, kept=staged)
        payload = decode(fields, values)
        carry_out_on = form_value(data, CARRY_OUT_ON)
        if file_errors:  # the refused files are gone; the others are kept for the form shown again
            errors = {**workflow.problems(the_portal, current, type_key, payload, carry_out_on), **file_errors}
            return _request_form(request, request_type, values=values, errors=errors, status_code=422, kept=staged)
        try:
            validated, cost = workflow.estimate(the_portal, current, type_key, payload, carry_out_on)
            lines = workflow.to_confirm(the_portal, current, type_key, validated)
            if expected is None:
                costs_something = cost.totals.total_ore != 0
                if lines or (cost.shows_anything and (costs_something or not every_file)):
                    return self._confirm(request, request_type, values, validated, cost, lines=lines, kept=staged)
                expected = cost.fingerprint
            elif lines and workflow.confirmation_mark(lines) != confirmed:  # not what was confirmed (or nothing)
                return self._confirm(
                    request, request_type, values, validated, cost, lines=lines, status_code=409, kept=staged
                )
            filed = workflow.file(
                the_portal,
                current,
                type_key,
                payload,
                carry_out_on,
                files=staged,
                expected_estimate=expected,
                follows_up=str(values.get(FOLLOWS_UP) or ""),
            )
        except ValidationFailed as exc:  # the files were fine: kept, named in the form shown again
            return _request_form(request, request_type, values=values, errors=exc.errors, status_code=422, kept=staged)
        except EstimateChanged as exc:
            validated, _cost = workflow.estimate(the_portal, current, type_key, payload, carry_out_on)
            lines = workflow.to_confirm(the_portal, current, type_key, validated)
            return self._confirm(
                request,
                request_type,
                values,
                validated,
                exc.current,
                error=gettext(exc.detail),
                status_code=409,
                lines=lines,
                kept=staged,
            )
        return Redirect(f"/requests/{filed.id}?notice=filed")

    def _confirm(
        self,
        request: HttpRequest,
        request_type: RequestType,
        values: Mapping[str, Any],
        validated: BaseModel,
        cost: Estimate,
        *,
        error: str = "",
        status_code: int = 200,
        lines: list[str] | None = None,
        kept: Mapping[str, list[StagedFile]] | None = None,
    ) -> Template:
        """The cost under the agreement, with what is asked for, before the customer sends the request; and what
        the type asks to be confirmed (``lines``: groups that will be removed), sent back as ``confirmed``."""
        the_portal = portal(request)
        with the_portal.database.reading() as session:
            context = form_context_for(
                session=session,
                user=user(request),
                organisation=viewer(request).organisation,
                clock=the_portal.clock,
                access_control_for=the_portal.access_control,
            )
            choices = render_choices(request_type, request_type.schema, context)
            system = (
                context.system(getattr(validated, request_type.system_field)) if request_type.system_field else None
            )
            costs = _cost_notices(session, request_type, viewer(request).organisation, the_portal.clock)
        data = validated.model_dump(mode="json")
        return page(
            "request_confirm.html",
            viewer(request),
            status_code=status_code,
            request_type=request_type,
            rows=display_rows(request_type, request_type.version, data, system.name if system else "", choices),
            values=values,
            estimate=cost,
            error=error,
            confirm_lines=lines or [],
            kept_token=_kept_token(request, kept or {}),
            kept_names=[item.filename for files in (kept or {}).values() for item in files],
            cost_notices=costs,
            confirmed=workflow.confirmation_mark(lines or []),
        )

    @post("/requests/{request_id:int}/messages", sync_to_thread=True, opt={UPLOADS: True})
    def post_message(self, request: HttpRequest, request_id: FromPath[int], data: MultipartBody) -> Template | Redirect:
        return post_message(request, request_id, data, staff=False)

    @get("/requests/{request_id:int}", sync_to_thread=True)
    def show(self, request: HttpRequest, request_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
        return request_page(request, request_id, notice=NOTICES.get(notice, ""))

    @get(
        "/requests/{request_id:int}/attachments/{attachment_id:int}",
        sync_to_thread=True,
        opt={NO_COMPRESSION: True},
        include_in_schema=False,
    )
    def attachment(
        self,
        request: HttpRequest,
        request_id: FromPath[int],
        attachment_id: FromPath[int],
        inline: FromQuery[bool] = False,
    ) -> Response[Any]:
        """A file on one of the organisation's requests (never an internal one): 404 for anything else."""
        return serve_attachment(request, request_id, attachment_id, inline=inline)

    @get("/requests/{request_id:int}/withdraw", sync_to_thread=True)
    def confirm_withdraw(self, request: HttpRequest, request_id: FromPath[int]) -> Template:
        the_portal = portal(request)
        with the_portal.database.reading() as session:
            found = get_request(session, user(request), request_id)
        return page(
            "confirm_withdraw.html",
            viewer(request),
            request_=found,
            request_type=the_portal.registry.get(found.type_key),
        )

    @post("/requests/{request_id:int}/date", sync_to_thread=True)
    def change_date(self, request: HttpRequest, request_id: FromPath[int], data: FormBody) -> Template | Redirect:
        try:
            workflow.change_date(portal(request), user(request), request_id, form_value(data, CARRY_OUT_ON))
        except ValidationFailed as exc:
            message = "; ".join(exc.errors.get(CARRY_OUT_ON, []))
            return request_page(request, request_id, error=message, status_code=422)
        return Redirect(f"/requests/{request_id}?notice=rescheduled")

    @get("/requests/{request_id:int}/messages", sync_to_thread=True)
    def new_messages(self, request: HttpRequest, request_id: FromPath[int], since: FromQuery[int] = 0) -> Template:
        return new_messages(request, request_id, since)

    @post("/requests/{request_id:int}/follow", sync_to_thread=True)
    def follow(self, request: HttpRequest, request_id: FromPath[int], data: FormBody) -> Redirect:
        following = form_value(data, "following") == "yes"
        with portal(request).database.writing() as session:
            found = get_request(session, user(request), request_id)
            start_following(session, found, user(request), following)
        return Redirect(f"/requests/{request_id}?notice={'following' if following else 'not_following'}")

    @post("/requests/{request_id:int}/withdraw", sync_to_thread=True)
    def withdraw(self, request: HttpRequest, request_id: FromPath[int]) -> Redirect:
        workflow.perform(portal(request), user(request), request_id, Action.WITHDRAW)
        return Redirect(f"/requests/{request_id}?notice=withdrawn")


def _kept_files(request: HttpRequest, values: dict[str, Any]) -> dict[str, list[StagedFile]]:
    """The files kept from an earlier post of this form (its signed token), minus those ticked for removal.

    A token of another user or session, an edited one, or one whose files are already on a request names
    nothing. Removed files are deleted from the storage at once.
    """
    token = str(values.pop(kept_files.TOKEN, "") or "")
    removing = values.pop(kept_files.REMOVE, None)
    refs = set(removing if isinstance(removing, list) else [removing] if removing else [])
    if not token:
        return {}
    the_portal, current = portal(request), user(request)
    found = kept_files.redeem(
        the_portal.secret_key,
        token,
        user_id=current.id or 0,
        session_token=viewer(request).session_token,
        now=the_portal.clock.now(),
    )
    with the_portal.database.reading() as session:
        found = kept_files.unrecorded(session, found)
    attachments.discard(the_portal.storage, [f.staged for f in found if f.ref in refs])
    still = [f for f in found if f.ref not in refs and the_portal.storage.exists(f.staged.storage_key)]
    return kept_files.by_field(still)


def _kept_token(request: HttpRequest, staged: Mapping[str, list[StagedFile]]) -> str:
    the_portal = portal(request)
    return kept_files.issue(
        the_portal.secret_key,
        user_id=user(request).id or 0,
        session_token=viewer(request).session_token,
        files=kept_files.kept_of(staged),
        now=the_portal.clock.now(),
    )


def _stage_form_files(
    request: HttpRequest, fields: list[Any], data: dict[str, Any], kept: Mapping[str, list[StagedFile]]
) -> tuple[dict[str, list[StagedFile]], dict[str, list[str]]]:
    """The checked, stored files of each file field (those kept from before first), and the errors of the
    fields whose new files were refused (their new files are not kept; the kept ones are)."""
    the_portal = portal(request)
    staged: dict[str, list[StagedFile]] = {name: list(items) for name, items in kept.items()}
    errors: dict[str, list[str]] = {}
    try:
        for form_field in file_fields(fields):
            chosen = uploads(data, form_field.name)
            if not chosen:
                continue
            already = staged.get(form_field.name, [])
            limit = form_field.max_files or attachments.MAX_FILES
            if already and len(already) + len(chosen) > limit:
                errors[form_field.name] = [
                    gettext("Choose at most %(count)s files in all, those kept included.", count=limit)
                ]
                continue
            try:
                staged[form_field.name] = already + attachments.stage_all(
                    the_portal.storage,
                    chosen,
                    field=form_field.name,
                    max_bytes=the_portal.settings.attachment_max_bytes,
                    max_files=max(limit - len(already), 0),
                    images_only=form_field.images_only,
                )
            except ValidationFailed as exc:
                errors.update(exc.errors)
    except BaseException:  # the storage failed: keep none of the files stored so far
        attachments.discard(the_portal.storage, [item for files in staged.values() for item in files])
        raise
    return staged, errors


def _request_type(request: HttpRequest, type_key: str) -> RequestType:
    request_type = portal(request).registry.get(type_key)
    if request_type is None or (request_type.administrators_only and not user(request).is_org_admin):
        from core.platform.errors import NotFound

        raise NotFound("There is no request type %(key)s.", key=type_key)
    return request_type


def _request_form(
    request: HttpRequest,
    request_type: RequestType,
    *,
    values: Mapping[str, Any],
    errors: dict[str, list[str]],
    status_code: int = 200,
    refreshed: str = "",
    kept: Mapping[str, list[StagedFile]] | None = None,
) -> Template:
    """The form with ``values``; ``refreshed`` names the field just chosen in (its dependants follow it)."""
    the_portal = portal(request)
    values = dict(values)
    with the_portal.database.reading() as session:
        context = form_context_for(
            session=session,
            user=user(request),
            organisation=viewer(request).organisation,
            clock=the_portal.clock,
            access_control_for=the_portal.access_control,
        )
        choices = render_choices(request_type, request_type.schema, context)
        fields = build_fields(request_type.schema, choices)
        _preselect_system(request_type, fields, values)
        narrow(fields, values)
        if refreshed and any(f.name == refreshed and f.refresh_label for f in walk(fields)):
            _follow(request_type, fields, values, refreshed, context)
            narrow(fields, values)
        today = context.today()
        costs = _cost_notices(session, request_type, viewer(request).organisation, the_portal.clock)
        reference = str(values.get(FOLLOWS_UP) or "")
        earlier = follow_up_of(session, user(request), reference) if reference else None
    for form_field in file_fields(fields):
        form_field.kept = [kept_files.KeptFile(form_field.name, item) for item in (kept or {}).get(form_field.name, [])]
    labels = {f.name: f.label for f in all_fields(fields)}
    return page(
        "request_form.html",
        viewer(request),
        status_code=status_code,
        request_type=request_type,
        fields=fields,
        values=values,
        errors=errors,
        labels=labels,
        today=today.isoformat(),
        multipart=bool(file_fields(fields)),
        refreshes=any(f.refresh_label for f in walk(fields)),
        cost_notices=costs,
        kept_token=_kept_token(request, kept or {}),
        notices=context.notices,
        about=earlier,
    )


def _cost_notices(session: Any, request_type: RequestType, organisation: Any, clock: Any) -> list[str]:
    """What the request may cost later (a visit, if the fault is the customer's), priced for the organisation."""
    if organisation is None or not request_type.cost_notices:
        return []
    return cost_notices(session, request_type, organisation_id=organisation.id, moment=clock.now())


def _preselect_system(request_type: RequestType, fields: list[Any], values: dict[str, Any]) -> None:
    """An organisation with one system (of the kinds the type takes) has it chosen from the start."""
    name = request_type.system_field
    if not name or values.get(name):
        return
    field = next((f for f in fields if f.name == name), None)
    if field is not None and len(field.options) == 1:
        values[name] = field.options[0].value


def _follow(request_type: RequestType, fields: list[Any], values: dict[str, Any], changed: str, context: Any) -> None:
    """After a choice in ``changed``: its dependants keep only what they still offer, then the type prefills."""
    pending = [changed]
    while pending:
        name = pending.pop()
        for dependant in dependants(fields, name):
            still = offered(dependant, values.get(dependant.name))
            if still in (None, []):
                if values.pop(dependant.name, None) is not None:
                    pending.append(dependant.name)
            else:
                values[dependant.name] = still
    for name, value in request_type.prefill(changed, values, context).items():
        values[name] = value
