"""The customer's pages: start page, request forms, "our requests", a request, withdrawing."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from pydantic import BaseModel
from sqlmodel import col, select

from core import attachments, chat, workflow
from core.attachments import AttachmentView, StagedFile
from core.billing.periods import local_day
from core.billing.pricing import Estimate, price_items_on
from core.billing.recording import EstimateChanged, new_nonce, request_charges
from core.context import FormContext
from core.display import display_rows, request_rows
from core.errors import Conflict, ValidationFailed
from core.filing import CARRY_OUT_ON
from core.followers import followers, is_following, start_following
from core.forms import build_fields, decode, file_fields, form_values, render_choices
from core.i18n import current_language, gettext
from core.lifecycle import Action, allowed_actions
from core.models import Office, System, User
from core.queries import get_request, history, list_requests
from core.request_types import RequestType
from core.statuses import Status
from core.web.controllers.common import (
    MAX_TEXT_FIELD,
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
from core.web.downloads import NO_COMPRESSION, file_response
from core.web.rendering import page
from core.web.types import HttpRequest
from core.web.viewer import require_customer, require_user


def _parse_statuses(raw: str) -> list[Status]:
    return [Status(s) for s in raw.split(",") if s in Status._value2member_map_]


class HomeController(Controller):
    guards = [require_user]

    @get("/", sync_to_thread=True)
    def start(self, request: HttpRequest) -> Template | Redirect:
        the_portal, current = portal(request), user(request)
        if current.is_staff:
            return Redirect("/staff/queue")
        organisation = viewer(request).organisation
        with the_portal.database.reading() as session:
            office = session.get(Office, organisation.office_id) if organisation else None
        types = [t for t in the_portal.registry if not t.administrators_only or current.is_org_admin]
        return page("start.html", viewer(request), types=types, office=office, organisation=organisation)


class CustomerController(Controller):
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
                statuses=_parse_statuses(status),
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

    @get("/requests/new/{type_key:str}", sync_to_thread=True)
    def new_request(self, request: HttpRequest, type_key: FromPath[str]) -> Template:
        return _request_form(request, _request_type(request, type_key), values={}, errors={})

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
            file_errors.update({name: [_choose_again()] for name in staged})
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
                the_portal, current, type_key, payload, carry_out_on, files=staged, expected_estimate=expected
            )
        except ValidationFailed as exc:
            attachments.discard(the_portal.storage, every_file)  # the estimate refused the form before filing did
            errors = exc.errors
            for name in staged:  # the files were fine, but the browser does not keep them after an error
                errors.setdefault(name, []).append(_choose_again())
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
            context = FormContext(
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
        return _request_page(request, request_id, notice=NOTICES.get(notice, ""))

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
            return _request_page(request, request_id, error=message, status_code=422)
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


def _choose_again() -> str:
    return gettext("Choose the files again: a browser does not keep chosen files after an error.")


def _ask_again(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A refused upload's errors, plus the reminder that every file of the form must be chosen again."""
    return {name: [*messages, _choose_again()] for name, messages in errors.items()}


def _request_type(request: HttpRequest, type_key: str) -> RequestType:
    request_type = portal(request).registry.get(type_key)
    if request_type is None or (request_type.administrators_only and not user(request).is_org_admin):
        from core.errors import NotFound

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
        context = FormContext(
            session=session,
            user=user(request),
            organisation=viewer(request).organisation,
            clock=the_portal.clock,
            access_control_for=the_portal.access_control,
        )
        choices = render_choices(request_type, request_type.schema, context)
        today = context.today()
    fields = build_fields(request_type.schema, choices)
    labels = {f.name: f.label for f in _all_fields(fields)}
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
    )


def serve_attachment(request: HttpRequest, request_id: int, attachment_id: int, *, inline: bool) -> Response[Any]:
    """Shared by the customer's, the staff's and the API's download routes: the same check for everyone."""
    the_portal = portal(request)
    with the_portal.database.reading() as session:
        row = attachments.find_attachment(session, user(request), request_id, attachment_id)
    return file_response(the_portal, request, row, inline=inline)


def _all_fields(fields: list[Any]) -> list[Any]:
    flat = []
    for form_field in fields:
        flat.append(form_field)
        for variant in form_field.variants:
            flat.extend(_all_fields(variant.fields))
    return flat


def _request_page(
    request: HttpRequest,
    request_id: int,
    *,
    notice: str = "",
    error: str = "",
    status_code: int = 200,
    staff: bool = False,
    message_error: str = "",
    message_body: str = "",
    files_error: list[str] | None = None,
    billing_form: str = "",
    billing_values: dict[str, str] | None = None,
    billing_errors: dict[str, list[str]] | None = None,
) -> Template:
    the_portal, current = portal(request), user(request)
    with the_portal.database.reading() as session:
        found = get_request(session, current, request_id)
        request_type = the_portal.registry.get(found.type_key)
        system = session.get(System, found.system_id) if found.system_id else None
        requester = session.get(User, found.requester_id)
        assignee = session.get(User, found.assignee_id) if found.assignee_id else None
        rows = request_rows(session, found, request_type, the_portal.clock, the_portal.access_control)
        events = history(session, request_id)
        messages = chat.visible_messages(session, current, request_id)
        request_files = [a for a in attachments.visible_attachments(session, current, request_id) if not a.message_id]
        colleagues = workflow.staff_colleagues(session) if current.is_staff else []
        following = False if current.is_staff else is_following(session, request_id, current.id or 0)
        followers_ = followers(session, found) if current.is_staff else []
        charges = request_charges(session, found)
        price_items = (
            price_items_on(session, local_day(found.created_at))
            if current.is_staff and found.status == Status.COMPLETED
            else {}
        )
        people = {
            u.id: u.name
            for u in session.exec(
                select(User).where(col(User.id).in_([line.created_by_id for line in charges.lines] or [0]))
            )
        }
        organisation_name = ""
        if current.is_staff:
            from core.models import Organisation

            org = session.get(Organisation, found.organisation_id)
            organisation_name = org.name if org else ""
    return page(
        "staff_request.html" if staff else "request.html",
        viewer(request),
        status_code=status_code,
        request_=found,
        request_type=request_type,
        system=system,
        requester=requester,
        assignee=assignee,
        rows=rows,
        events=events,
        messages=messages,
        message_error=message_error,
        message_body=message_body,
        files_error=files_error or [],
        request_files=[a for a in request_files if not a.form_field],
        form_files=_by_form_field(request_files),
        message_url=f"{'/staff' if staff else ''}/requests/{request_id}/messages",
        poll_url=f"{'/staff' if staff else ''}/requests/{request_id}/messages",
        actions=allowed_actions(found, current, request_type),
        notice=notice,
        error=error,
        colleagues=colleagues,
        following=following,
        followers_=followers_,
        organisation_name=organisation_name,
        Action=Action,
        charges=charges,
        price_items=sorted(price_items.values(), key=lambda item: item.code),
        people=people,
        billing_form=billing_form,
        billing_values=billing_values or {},
        billing_errors=billing_errors or {},
        nonce=new_nonce(),
        language=current_language(),
    )


def _by_form_field(files: list[AttachmentView]) -> dict[str, list[AttachmentView]]:
    """Files filed with the form, by field: the request page shows them in that field's row."""
    grouped: dict[str, list[AttachmentView]] = {}
    for item in files:
        if item.form_field:
            grouped.setdefault(item.form_field, []).append(item)
    return grouped


def post_message(request: HttpRequest, request_id: int, data: dict[str, Any], *, staff: bool) -> Template | Redirect:
    """Shared by the customer's and the staff's request pages: the text and the files, or field errors."""
    the_portal, current = portal(request), user(request)
    kind = form_value(data, "kind")
    body = form_value(data, "body")[: MAX_TEXT_FIELD + 1]  # shown back on an error: never megabytes of it
    chosen = uploads(data, "files")
    with the_portal.database.reading() as session:
        get_request(session, current, request_id)  # 404 before any file is stored for a request one may not see
    try:
        files = attachments.stage_all(
            the_portal.storage, chosen, field="files", max_bytes=the_portal.settings.attachment_max_bytes
        )
        chat.post(
            the_portal,
            current,
            request_id,
            body,
            internal=staff and kind == "internal",
            ask_customer=staff and kind == "ask",
            files=files,
        )
    except ValidationFailed as exc:
        files_error = exc.errors.get("files", [])
        if chosen:
            files_error = [*files_error, _choose_again()]
        return _request_page(
            request,
            request_id,
            status_code=422,
            staff=staff,
            message_error="; ".join(exc.errors.get("body", [])),
            message_body=body,
            files_error=files_error,
        )
    except Conflict as exc:
        message = gettext(exc.detail, **exc.params) if exc.params else gettext(exc.detail)
        return _request_page(request, request_id, status_code=409, staff=staff, error=message, message_body=body)
    prefix = "/staff" if staff else ""
    return Redirect(f"{prefix}/requests/{request_id}#messages-title")


def new_messages(request: HttpRequest, request_id: int, since: int) -> Template:
    """The messages after ``since``, as list items: the request page polls this to show them without a reload."""
    with portal(request).database.reading() as session:
        get_request(session, user(request), request_id)  # 404 outside the viewer's organisation
        messages = chat.visible_messages(session, user(request), request_id, since=since)
    return page("_messages.html", viewer(request), messages=messages)
