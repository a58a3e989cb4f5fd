"""Staff look at inbound mail the intake could not attach, and attach it to a request by hand."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import col, select

from core import attachments
from core.attachments import StagedFile
from core.errors import Conflict, NotFound
from core.intake.files import mail_files
from core.intake.parse import parse_mail, text_of
from core.intake.quotes import strip_quotes
from core.models import ChatMessage, InboundMail, Request
from core.queries import valid_id
from core.statuses import Status
from core.web.controllers.common import NOTICES, FormBody, form_value, portal, viewer
from core.web.rendering import page
from core.web.types import HttpRequest
from core.web.viewer import require_staff

PAGE_SIZE = 50


def _body(row: InboundMail) -> str:
    try:
        return strip_quotes(text_of(parse_mail(row.raw))) or ""
    except Exception:  # unreadable mail: show what can be shown
        return row.raw[:2000].decode("utf-8", errors="replace")


def _mail_page(request: HttpRequest, mail_id: int, *, error: str = "", status_code: int = 200) -> Template:
    with portal(request).database.reading() as session:
        row = session.get(InboundMail, mail_id) if valid_id(mail_id) else None
    if row is None:
        raise NotFound("There is no such mail.")
    return page(
        "staff/quarantine_mail.html", viewer(request), status_code=status_code, mail=row, body=_body(row), error=error
    )


def _files_of(request: HttpRequest, mail_id: int) -> tuple[list[StagedFile], list[str]]:
    """The mail's attachments, checked and stored like a reply's (nothing for a mail that cannot be read)."""
    with portal(request).database.reading() as session:
        row = session.get(InboundMail, mail_id) if valid_id(mail_id) else None
    if row is None or row.status != "quarantined":
        raise NotFound("There is no such mail.")
    try:
        message = parse_mail(row.raw)
    except Exception:  # unreadable: the text shown is all there is
        return [], []
    return mail_files(portal(request), message)


class QuarantineController(Controller):
    path = "/staff/quarantine"
    guards = [require_staff]

    @get("/", sync_to_thread=True)
    def index(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template:
        with portal(request).database.reading() as session:
            rows = list(
                session.exec(
                    select(InboundMail)
                    .where(InboundMail.status == "quarantined")
                    .order_by(col(InboundMail.id).desc())
                    .limit(PAGE_SIZE)
                )
            )
        return page("staff/quarantine.html", viewer(request), rows=rows, notice=NOTICES.get(notice, ""))

    @get("/{mail_id:int}", sync_to_thread=True)
    def show(self, request: HttpRequest, mail_id: FromPath[int]) -> Template:
        return _mail_page(request, mail_id)

    @post("/{mail_id:int}/attach", sync_to_thread=True)
    def attach(self, request: HttpRequest, mail_id: FromPath[int], data: FormBody) -> Template | Redirect:
        number = form_value(data, "request").strip().upper().removeprefix("BB-")
        the_portal = portal(request)
        files, notes = _files_of(request, mail_id)
        try:
            with the_portal.database.writing() as session:
                row = session.get(InboundMail, mail_id) if valid_id(mail_id) else None
                if row is None or row.status != "quarantined":
                    raise NotFound("There is no such mail.")
                target = (
                    session.get(Request, int(number))
                    if number.isascii() and number.isdigit() and valid_id(int(number))
                    else None
                )
                if target is None:
                    raise Conflict("There is no such request.")
                if Status(target.status).is_closed:
                    raise Conflict("This request is closed; file a new request instead.")
                message = ChatMessage(
                    request_id=target.id or 0,
                    author_id=None,
                    via="email",
                    body="\n\n".join(part for part in (f"{row.sender}:\n{_body(row)}", "\n".join(notes)) if part),
                    created_at=the_portal.clock.now(),
                    inbound_mail_id=row.id,
                )
                session.add(message)
                session.flush()
                attachments.record(
                    session, files, request_id=target.id or 0, message_id=message.id, clock=the_portal.clock
                )
                row.status, row.request_id, row.chat_message_id = "attached", target.id, message.id
                row.reason = f"attached by hand by {viewer(request).user.name}"  # type: ignore[union-attr]
                session.add(row)
        except BaseException as exc:
            attachments.discard(the_portal.storage, files)
            if not isinstance(exc, Conflict):
                raise
            from core.i18n import gettext

            return _mail_page(request, mail_id, error=gettext(exc.detail), status_code=409)
        return Redirect(f"/staff/requests/{number}?notice=attached")
