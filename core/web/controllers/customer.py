"""The customer's pages: start page, request forms, "our requests", a request, withdrawing."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from pydantic import BaseModel

from core.billing.pricing import Estimate
from core.billing.recording import EstimateChanged
from core.models import Office
from core.platform.errors import ValidationFailed
from core.platform.i18n import gettext
from core.requests import attachments
from core.requests.attachments import StagedFile
from core.requests.context import form_context_for
from core.requests.display import display_rows
from core.requests.filing import CARRY_OUT_ON
from core.requests.followers import start_following
from core.requests.forms import build_fields, decode, file_fields, form_values, render_choices
from core.requests.lifecycle import Action
from core.requests.queries import follow_up_of, get_request, list_requests
from core.requests.request_types import RequestType
from core.requests.statuses import Status
from core.requests.waiting import newest_waiting, waiting_count
from core.web.common import (
    NOTICES,
    UPLOADS,
    FormBody,
    MultipartBody,
    form_value,
    portal,
    read,
    text_fields,
    uploads,
    user,
    viewer,
)
from core.web.downloads import NO_COMPRESSION
from core.web.rendering import page
from core.web.request_pages import (
    all_fields,
    choose_again,
    new_messages,
    parse_statuses,
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
    async def our_requests(
        self,
        request: HttpRequest,
        status: FromQuery[str] = "",
        type: FromQuery[str] = "",
        cursor: FromQuery[str] = "",
        notice: FromQuery[str] = "",
    ) -> Template:
        the_portal = portal(request)
        result = await read(
            request,
            partial(
                list_requests,
                user=user(request),
                statuses=parse_statuses(status),
                type_key=type or None,
                cursor=cursor or None,
                limit=the_portal.settings.page_size,
            ),
        )
        return page(
            "requests.html",
            viewer(request),
            page_=result,
            registry=the_portal.registry,
            status=status,
            type_key=type,
            cursor=cursor,
            statuses=list(Status),
            notice=NOTICES.get(notice, ""),
        )

    @get("/requests/new", sync_to_thread=True)
    def choose_type(self, request: HttpRequest, about: FromQuery[str] = "") -> Template:
        """The start page's choice of request type, carrying the request a new one is about (a closed one's
        "new request about this", from its page or its last mail)."""
        return _start_page(request, about)

    @get("/requests/new/{type_key:str}", sync_to_thread=True)
    def new_request(self, request: HttpRequest, type_key: FromPath[str], about: FromQuery[str] = "") -> Template:
        values = {FOLLOWS_UP: about} if about else {}
        return _request_form(request, _request_type(request, type_key), values=values, errors={})

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
        sent_estimate = values.pop("estimate", None)
        expected = str(sent_estimate) if sent_estimate is not None else None
        if step == "edit":
            return _request_form(request, request_type, values=values, errors={})
        fields = build_fields(request_type.schema)
        payload = decode(fields, values)
        carry_out_on = form_value(data, CARRY_OUT_ON)
        staged, file_errors = _stage_form_files(request, fields, data)
        every_file = [item for files in staged.values() for item in files]
        if file_errors:
            attachments.discard(the_portal.storage, every_file)
            file_errors.update({name: [choose_again()] for name in staged})
            errors = {**workflow.problems(the_portal, current, type_key, payload, carry_out_on), **file_errors}
            return _request_form(request, request_type, values=values, errors=errors, status_code=422)
        try:
            if expected is None:
                validated, cost = workflow.estimate(the_portal, current, type_key, payload, carry_out_on)
                costs_something = cost.totals.total_ore != 0
                if cost.shows_anything and (costs_something or not every_file):
                    attachments.discard(the_portal.storage, every_file)
                    note = gettext("Add the files in the request's conversation once it is sent.") if every_file else ""
                    return self._confirm(request, request_type, values, validated, cost, error=note)
                expected = cost.fingerprint
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
        except ValidationFailed as exc:
            attachments.discard(the_portal.storage, every_file)  # the estimate refused the form before filing did
            errors = exc.errors
            for name in staged:  # the files were fine, but the browser does not keep them after an error
                errors.setdefault(name, []).append(choose_again())
            return _request_form(request, request_type, values=values, errors=errors, status_code=422)
        except EstimateChanged as exc:
            attachments.discard(the_portal.storage, every_file)
            validated, _cost = workflow.estimate(the_portal, current, type_key, payload, carry_out_on)
            return self._confirm(
                request, request_type, values, validated, exc.current, error=gettext(exc.detail), status_code=409
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
    ) -> Template:
        """The cost under the agreement, with what is asked for, before the customer sends the request."""
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


def _stage_form_files(
    request: HttpRequest, fields: list[Any], data: dict[str, Any]
) -> tuple[dict[str, list[StagedFile]], dict[str, list[str]]]:
    """The checked, stored files of each file field, and the errors of the fields whose files were refused."""
    the_portal = portal(request)
    staged: dict[str, list[StagedFile]] = {}
    errors: dict[str, list[str]] = {}
    try:
        for form_field in file_fields(fields):
            chosen = uploads(data, form_field.name)
            if not chosen:
                continue
            try:
                staged[form_field.name] = attachments.stage_all(
                    the_portal.storage,
                    chosen,
                    field=form_field.name,
                    max_bytes=the_portal.settings.attachment_max_bytes,
                    max_files=form_field.max_files or attachments.MAX_FILES,
                    images_only=form_field.images_only,
                )
            except ValidationFailed as exc:
                errors.update(_ask_again(exc.errors))
    except BaseException:  # the storage failed: keep none of the files stored so far
        attachments.discard(the_portal.storage, [item for files in staged.values() for item in files])
        raise
    return staged, errors


def _ask_again(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A refused upload's errors, plus the reminder that every file of the form must be chosen again."""
    return {name: [*messages, choose_again()] for name, messages in errors.items()}


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
) -> Template:
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
        today = context.today()
        reference = str(values.get(FOLLOWS_UP) or "")
        earlier = follow_up_of(session, user(request), reference) if reference else None
    fields = build_fields(request_type.schema, choices)
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
        notices=context.notices,
        about=earlier,
    )
