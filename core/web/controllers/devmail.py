"""Embedded mode only: the mails the portal "sent" (``.eml`` files), shown as their recipients see them."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from litestar import Controller, get
from litestar.params import FromPath
from litestar.response import Template

from core.platform.errors import NotFound
from core.web.common import portal, viewer
from core.web.rendering import page
from core.web.security_headers import INLINE_STYLES
from core.web.types import HttpRequest
from core.web.viewer import require_admin

PAGE_SIZE = 50


@dataclass
class MailSummary:
    name: str
    subject: str
    to: str
    date: str


def _folder(request: HttpRequest) -> Path:
    return portal(request).settings.data_dir / "mail"


def _read(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


class DevMailController(Controller):
    """Shows every mail, password links included: only BBGRUPPEN administrators may look."""

    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)

    path = "/dev/mail"
    guards = [require_admin]

    @get("/", sync_to_thread=True)
    def index(self, request: HttpRequest) -> Template:
        folder = _folder(request)
        files = (
            sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)[:PAGE_SIZE]
            if folder.exists()
            else []
        )
        mails = []
        for path in files:
            message = _read(path)
            mails.append(MailSummary(path.stem, str(message["Subject"]), str(message["To"]), str(message["Date"])))
        return page("devmail/index.html", viewer(request), mails=mails)

    @get("/{name:str}", sync_to_thread=True, opt={INLINE_STYLES: True})  # the mail's own HTML, with style=
    def show(self, request: HttpRequest, name: FromPath[str]) -> Template:
        path = _folder(request) / f"{name}.eml"
        if "/" in name or ".." in name or not path.is_file():
            raise NotFound("There is no such mail.")
        message = _read(path)
        html_part = message.get_body(preferencelist=("html",))
        text_part = message.get_body(preferencelist=("plain",))
        return page(
            "devmail/show.html",
            viewer(request),
            message=message,
            name=name,
            headers=[(k, str(v)) for k, v in message.items()],
            html=str(html_part.get_content()) if html_part else "",
            text=str(text_part.get_content()) if text_part else "",
        )
