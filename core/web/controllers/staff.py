"""The staff pages: the shared queue, every organisation's requests, and the actions on one request."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.platform.errors import Conflict
from core.platform.i18n import gettext as _
from core.requests.lifecycle import Action
from core.requests.queries import valid_id
from core.web.common import (
    NOTICES,
    UPLOADS,
    FormBody,
    MultipartBody,
    form_value,
    portal,
    user,
    viewer,
)
from core.web.downloads import NO_COMPRESSION
from core.web.lists import list_export, list_page
from core.web.rendering import page
from core.web.request_pages import new_messages, post_message, request_page, serve_attachment
from core.web.types import HttpRequest
from core.web.viewer import require_staff
from core.workflow import actions as workflow

ACTION_NOTICES = {
    Action.TAKE: "taken",
    Action.HAND_BACK: "handed_back",
    Action.ASSIGN: "assigned",
    Action.CARRY_OUT: "carried_out",
    Action.COMPLETE: "completed",
    Action.REJECT: "rejected",
}
STAFF_ACTIONS = {a.value: a for a in ACTION_NOTICES}
RETRY_BACK = re.compile(r"^/(staff/requests/\d{1,10}|admin/organisations/\d{1,10}|admin/staff)$")
"""Pages the retry button may send staff back to (never an address from outside)."""


def _int_or_none(value: str) -> int | None:
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if valid_id(number) else None


class StaffController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    path = "/staff"
    guards = [require_staff]

    @get("/queue")
    async def show_queue(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template | Redirect:
        """The shared queue and the staff's views of it (mine, unassigned, waiting for the customer, needs
        attention, all); the view, filters and order chosen last are remembered per staff member."""
        return await list_page(
            request,
            path="/staff/queue",
            default_view="queue",
            template="queue.html",
            remember_as="staff_queue",
            notice=NOTICES.get(notice, ""),
        )

    @get("/queue.csv")
    async def export_queue(self, request: HttpRequest) -> Response[Any]:
        return await list_export(request, default_view="queue", name="queue")

    @get("/requests")
    async def all_requests(self, request: HttpRequest) -> Template | Redirect:
        return await list_page(
            request,
            path="/staff/requests",
            default_view="all",
            template="staff_requests.html",
            remember_as="staff_requests",
        )

    @get("/requests.csv")
    async def export_requests(self, request: HttpRequest) -> Response[Any]:
        return await list_export(request, default_view="all", name="requests")

    @get("/requests/{request_id:int}", sync_to_thread=True)
    def show(self, request: HttpRequest, request_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
        return request_page(request, request_id, notice=NOTICES.get(notice, ""), staff=True)

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
        """Any file on any request, internal ones included."""
        return serve_attachment(request, request_id, attachment_id, inline=inline)

    @get("/requests/{request_id:int}/reject", sync_to_thread=True)
    def confirm_reject(self, request: HttpRequest, request_id: FromPath[int]) -> Template:
        with portal(request).database.reading() as session:
            from core.requests.queries import get_request

            found = get_request(session, user(request), request_id)
        return page("confirm_reject.html", viewer(request), request_=found, error="", reason="")

    @get("/requests/{request_id:int}/messages", sync_to_thread=True)
    def new_messages(self, request: HttpRequest, request_id: FromPath[int], since: FromQuery[int] = 0) -> Template:
        return new_messages(request, request_id, since)

    @post("/requests/{request_id:int}/messages", sync_to_thread=True, opt={UPLOADS: True})
    def post_message(self, request: HttpRequest, request_id: FromPath[int], data: MultipartBody) -> Template | Redirect:
        """A message to the customer, a question (Väntar på kund) or an internal note, each with files."""
        return post_message(request, request_id, data, staff=True)

    @post("/requests/{request_id:int}/reject", sync_to_thread=True)
    def reject(self, request: HttpRequest, request_id: FromPath[int], data: FormBody) -> Template | Redirect:
        """Its own route because the confirmation page (GET) owns this path."""
        return self._act(request, request_id, Action.REJECT.value, data)

    @post("/users/{user_id:int}/retry-mail", sync_to_thread=True)
    def retry_mail(self, request: HttpRequest, user_id: FromPath[int], data: FormBody) -> Redirect:
        """ "Försök igen att skicka till adressen": the bounce mark goes; back to the page the button was on."""
        from core.accounts import administration

        with portal(request).database.writing() as session:
            administration.retry_mail_address(session, user_id)
        back = form_value(data, "back")
        return Redirect(f"{back if RETRY_BACK.match(back) else '/staff/queue'}?notice=mail_retry")

    @post("/requests/{request_id:int}/{action:str}", sync_to_thread=True)
    def act(
        self, request: HttpRequest, request_id: FromPath[int], action: FromPath[str], data: FormBody
    ) -> Template | Redirect:
        return self._act(request, request_id, action, data)

    def _act(self, request: HttpRequest, request_id: int, action: str, data: dict[str, Any]) -> Template | Redirect:
        chosen = STAFF_ACTIONS.get(action)
        if chosen is None:
            from core.platform.errors import NotFound

            raise NotFound("There is no such page.")
        reason = form_value(data, "reason")
        assignee = _int_or_none(form_value(data, "assignee_id"))
        try:
            workflow.perform(portal(request), user(request), request_id, chosen, reason=reason, assignee_id=assignee)
        except Conflict as exc:
            message = _(exc.detail, **exc.params) if exc.params else _(exc.detail)
            if chosen == Action.REJECT and not reason.strip():
                with portal(request).database.reading() as session:
                    from core.requests.queries import get_request

                    found = get_request(session, user(request), request_id)
                return page(
                    "confirm_reject.html",
                    viewer(request),
                    status_code=409,
                    request_=found,
                    error=message,
                    reason=reason,
                )
            return request_page(request, request_id, error=message, status_code=409, staff=True)
        return Redirect(f"/staff/requests/{request_id}?notice={ACTION_NOTICES[chosen]}")
