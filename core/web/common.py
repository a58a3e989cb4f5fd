"""Small helpers the page controllers share."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, TypeVar, cast

import anyio.to_thread
from litestar import Litestar
from litestar.datastructures import Cookie, UploadFile
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body
from sqlmodel import Session

from core.models import User
from core.platform.db import Database
from core.platform.i18n import N_
from core.platform.settings import Settings
from core.requests.attachments import MAX_FILES, Upload
from core.web.types import UPLOADS, HttpRequest
from core.web.viewer import Viewer

if TYPE_CHECKING:
    from core.portal import Portal

T = TypeVar("T")

FormBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
MultipartBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
"""Forms that may carry files; they also take url-encoded posts (a form with no file input)."""
MULTIPART_MARGIN = 1024 * 1024
"""Room for the text fields and the multipart framing next to the files themselves."""


def portal(request: HttpRequest) -> Portal:
    value: Portal = request.app.state.portal
    return value


async def read(request: HttpRequest, work: Callable[[Session], T]) -> T:
    """``work`` in a read session: on the event loop for SQLite, in a worker thread for a networked database.

    The busy list pages are read-only. A read of an indexed page of a local SQLite file takes well under a
    millisecond and, in WAL mode, never waits for a writer, while handing it to a worker thread and back cost
    more CPU than the read itself (about 2 ms per page, measured). A database across the network may keep
    the caller waiting, so there the read goes to a thread and the loop serves other requests meanwhile.
    """
    database = portal(request).database
    if database.is_sqlite:
        return _read(database, work)
    return await anyio.to_thread.run_sync(partial(_read, database, work))


def _read(database: Database, work: Callable[[Session], T]) -> T:
    with database.reading() as session:
        return work(session)


def viewer(request: HttpRequest) -> Viewer:
    value: Viewer = request.state.viewer
    return value


def user(request: HttpRequest) -> User:
    found = viewer(request).user
    assert found is not None, "guarded routes always have a user"
    return found


def client_address(request: HttpRequest) -> str:
    return request.client.host if request.client else "unknown"


def form_value(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)


def flat_form(data: dict[str, Any]) -> dict[str, str]:
    return {key: form_value(data, key) for key in data if key != "_csrf" and not _is_file(data[key])}


MAX_TEXT_FIELD = 100_000
"""No form field takes more (chat messages take 10,000): longer text is cut before it is shown back."""


def text_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A multipart form's fields without its files (those are read with :func:`uploads`), each text bounded
    so that a page showing the input again never echoes megabytes (validation refuses it all the same)."""
    return {key: _bounded(value) for key, value in data.items() if not _is_file(value)}


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return value[: MAX_TEXT_FIELD + 1]  # one more than allowed: still refused as too long
    if isinstance(value, list):
        return [_bounded(item) for item in value]
    return value


def _is_file(value: Any) -> bool:
    return isinstance(value, UploadFile) or (isinstance(value, list) and any(isinstance(v, UploadFile) for v in value))


def uploads(data: dict[str, Any], key: str) -> list[Upload]:
    """The files chosen in one file input; an input left empty sends nothing that counts."""
    value = data.get(key, [])
    items = value if isinstance(value, list) else [value]
    return [
        Upload(item.filename, cast(BinaryIO, item.file))
        for item in items
        if isinstance(item, UploadFile) and item.filename
    ]


def upload_body_limit(settings: Settings) -> int:
    """Largest request body the file-carrying forms take: a full set of files at the size limit, plus the text.

    Anything larger is cut off by Litestar while it is read and answered with a page that explains the
    limits (see ``core.web.errors``); one file over the limit inside a smaller body gets a field error.
    """
    return MAX_FILES * settings.attachment_max_bytes + MULTIPART_MARGIN


def allow_uploads(app: Litestar, settings: Settings) -> None:
    """Give the routes marked ``opt={UPLOADS: True}`` the upload body limit; every other route keeps Litestar's.

    The limit comes from the settings, so it cannot be written in the route decorator; and those routes
    share their paths with GET routes of the same controller, so they cannot move under a router of their
    own (Litestar 2.25 refuses one path registered from two places). Litestar reads the limit lazily, on
    the first request, so setting it on the registered handlers before serving is enough.
    """
    limit = upload_body_limit(settings)
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if isinstance(handler, HTTPRouteHandler) and handler.opt.get(UPLOADS):
                handler.request_max_body_size = limit


# Notices after a redirect are chosen from this list by key, so no text travels in the URL.
NOTICES = {
    "filed": N_("Your request has been filed."),
    "withdrawn": N_("The request has been withdrawn."),
    "rescheduled": N_("The date has been changed."),
    "following": N_("You follow this request: you get an e-mail when its status changes."),
    "not_following": N_("You no longer follow this request."),
    "taken": N_("You now hold the request."),
    "handed_back": N_("The request is back in the queue."),
    "assigned": N_("The request has been passed on."),
    "carried_out": N_("The request is being carried out in the background."),
    "completed": N_("The request is completed."),
    "rejected": N_("The request has been rejected."),
    "saved": N_("Saved."),
    "language": N_("Language changed."),
    "token_revoked": N_("The token has been revoked."),
    "deactivated": N_("The user has been deactivated."),
    "logged_out": N_("You are logged out."),
    "attached": N_("The mail is attached to the request."),
    "retried": N_("The job will run again shortly."),
    "password_set": N_("Your password is set. Log in with it."),
    "password_changed": N_("Your password is changed. You are logged out everywhere else."),
    "mail_retry": N_("Mail will be sent to the address again."),
    "filed_from_mail": N_("The mail has been filed as a new request; it is the request's first message."),
}


def cookie(request: HttpRequest, key: str, value: str, max_age: int | None) -> Cookie:
    """A cookie of the portal's: HttpOnly, SameSite=Lax, site-wide, and Secure when the base URL is https."""
    return Cookie(
        key=key,
        value=value,
        httponly=True,
        samesite="lax",
        path="/",
        max_age=max_age,
        secure=portal(request).settings.base_url.startswith("https://"),
    )
