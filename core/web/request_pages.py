"""The request page and the pieces of it every side shares: the conversation, files, status filters.

Customers and staff see the same request page with different actions; the page, its messages and its
files are built here once, so that no controller needs another controller's helpers.
"""

from __future__ import annotations

from typing import Any

from litestar import Response
from litestar.response import Redirect, Template
from sqlmodel import col, select

from core.billing.periods import local_day
from core.billing.pricing import price_items_on
from core.billing.recording import new_nonce, request_charges
from core.conversation import chat
from core.models import System, User
from core.platform.errors import Conflict, ValidationFailed
from core.platform.i18n import current_language, gettext
from core.requests import attachments
from core.requests.attachments import AttachmentView
from core.requests.display import request_rows
from core.requests.followers import followers, is_following
from core.requests.lifecycle import Action, allowed_actions
from core.requests.queries import get_request, history
from core.requests.statuses import Status
from core.web.common import (
    MAX_TEXT_FIELD,
    form_value,
    portal,
    uploads,
    user,
    viewer,
)
from core.web.downloads import file_response
from core.web.rendering import page
from core.web.types import HttpRequest
from core.workflow import actions as workflow


def parse_statuses(raw: str) -> list[Status]:
    return [Status(s) for s in raw.split(",") if s in Status._value2member_map_]


def serve_attachment(request: HttpRequest, request_id: int, attachment_id: int, *, inline: bool) -> Response[Any]:
    """Shared by the customer's, the staff's and the API's download routes: the same check for everyone."""
    the_portal = portal(request)
    with the_portal.database.reading() as session:
        row = attachments.find_attachment(session, user(request), request_id, attachment_id)
    return file_response(the_portal, request, row, inline=inline)


def all_fields(fields: list[Any]) -> list[Any]:
    flat = []
    for form_field in fields:
        flat.append(form_field)
        for variant in form_field.variants:
            flat.extend(all_fields(variant.fields))
    return flat


def request_page(
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
        form_files=by_form_field(request_files),
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


def by_form_field(files: list[AttachmentView]) -> dict[str, list[AttachmentView]]:
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
            files_error = [*files_error, choose_again()]
        return request_page(
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
        return request_page(request, request_id, status_code=409, staff=staff, error=message, message_body=body)
    prefix = "/staff" if staff else ""
    return Redirect(f"{prefix}/requests/{request_id}#messages-title")


def new_messages(request: HttpRequest, request_id: int, since: int) -> Template:
    """The messages after ``since``, as list items: the request page polls this to show them without a reload."""
    with portal(request).database.reading() as session:
        get_request(session, user(request), request_id)  # 404 outside the viewer's organisation
        messages = chat.visible_messages(session, user(request), request_id, since=since)
    return page("_messages.html", viewer(request), messages=messages)


def choose_again() -> str:
    return gettext("Choose the files again: a browser does not keep chosen files after an error.")
