"""Who is asking: resolved once per HTTP request from the session cookie or an API token, plus CSRF."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from litestar.types import ASGIApp, Receive, Scope, Send

from core.accounts import auth
from core.models import Organisation, User
from core.platform.errors import NotFound
from core.platform.i18n import LANGUAGES, N_, set_language
from core.requests.waiting import waiting_count
from core.web.types import PROBE, UPLOADS, HttpRequest

if TYPE_CHECKING:
    from core.portal import Portal

SESSION_COOKIE = "bb_session"
ANON_COOKIE = "bb_anon"
LANGUAGE_COOKIE = "bb_lang"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


TOKEN_REFUSED = N_("The API token is unknown, revoked or its owner deactivated.")


class InvalidToken(NotAuthorizedException):
    """An ``Authorization: Bearer`` token that opens nothing. Logging in cannot help (the header comes with every
    request), so a page answers 401 itself instead of sending the browser to the log-in page."""

    def __init__(self) -> None:
        super().__init__(
            TOKEN_REFUSED,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


@dataclass
class Viewer:
    user: User | None
    organisation: Organisation | None
    via_token: bool
    session_token: str | None
    anon_token: str | None
    language: str
    csrf: str
    """The CSRF token pages carry: made with the current key."""
    csrf_binding: str = ""
    """What the CSRF token is bound to (the session cookie, or the anonymous cookie): a token made for it with a
    fallback key (a page rendered before a key rotation) is accepted too."""
    waiting: int | None = None
    """How many of a customer's requests wait for their answer (the navigation's badge), counted in the read
    that found the session when a page is asked for (a GET); None: not counted here."""


def portal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Portal:
    portal: Portal = connection.app.state.portal
    return portal


def resolve_viewer(request: HttpRequest) -> Viewer:
    """Look the user up by API token (``Authorization: Bearer``) or session cookie; set the language."""
    portal = portal_of(request)
    keys = portal.secret_keys
    user: User | None = None
    organisation: Organisation | None = None
    via_token = False
    session_token = request.cookies.get(SESSION_COOKIE)
    header = request.headers.get("authorization", "")
    identity: auth.Identity | None = None
    waiting: int | None = None
    with portal.database.reading() as session:
        if header.lower().startswith("bearer "):
            api_token = header[7:].strip()
            identity = auth.identity_for_token(session, api_token, secret_key=keys)
            via_token = True
            if identity is None:
                raise InvalidToken()
            if identity.by_fallback_key:  # signed before a key rotation: stored again under the current key
                with portal.database.writing() as writer:
                    auth.rekey(writer, api_token, keys)
        elif session_token:
            identity, stale = auth.resolve_session(session, session_token, secret_key=keys, clock=portal.clock)
            if identity is not None and request.method == "GET" and not identity.user.is_staff:
                # one query more in this read, not a read of its own while the page renders
                waiting = waiting_count(session, identity.user, for_badge=True)
            if stale is not None or (identity is not None and identity.by_fallback_key):
                with portal.database.writing() as writer:
                    if identity is not None and identity.by_fallback_key:
                        auth.rekey(writer, session_token, keys)
                    if stale is not None:
                        auth.extend_session(writer, stale, days=portal.settings.session_days, clock=portal.clock)
    if identity is not None:
        user, organisation = identity.user, identity.organisation
    language = (
        user.language if user is not None else request.cookies.get(LANGUAGE_COOKIE, portal.settings.default_language)
    )
    language = language if language in LANGUAGES else "sv"
    set_language(language)
    anon = request.cookies.get(ANON_COOKIE)
    binding = session_token if user is not None and session_token else anon
    csrf = auth.csrf_token(keys.current, binding) if binding else ""
    return Viewer(
        user, organisation, via_token, session_token if user else None, anon, language, csrf, binding or "", waiting
    )


def _nobody(request: HttpRequest) -> Viewer:
    """The viewer of a health probe: anonymous, whatever cookies or token it sends, and no database asked."""
    return Viewer(None, None, False, None, None, portal_of(request).settings.default_language, "")


def viewer_middleware(app: ASGIApp) -> ASGIApp:
    """Resolve the viewer before guards run, in the task that also renders the page (language context)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request: Request = Request(scope, receive)
            probe = scope["route_handler"].opt.get(PROBE)
            request.state.viewer = _nobody(request) if probe else resolve_viewer(request)
        await app(scope, receive, send)

    return middleware


async def check_csrf(request: HttpRequest) -> None:
    """Every unsafe request made with cookies carries the CSRF token of its session (form field or header)."""
    viewer: Viewer = request.state.viewer
    if request.method in UNSAFE_METHODS and not viewer.via_token:
        provided = request.headers.get("x-csrf-token", "")
        if not provided and "form" in request.headers.get("content-type", ""):
            form = await request.form()
            provided = str(form.get("_csrf", ""))
        if not viewer.csrf or not (
            hmac.compare_digest(provided.encode(), viewer.csrf.encode())
            or auth.csrf_matches(portal_of(request).secret_keys, viewer.csrf_binding, provided)
        ):
            raise PermissionDeniedException(
                "The form had expired or came from another site. Reload the page and try again."
            )


TEXT_BODY_LIMIT = 1024 * 1024
"""A form without files is small: the upload routes' larger limit is for files, never for pasted text."""


def refuse_large_text_posts(request: HttpRequest) -> None:
    """Upload routes take url-encoded posts too (a form with no file chosen); those keep the ordinary limit."""
    if request.method not in UNSAFE_METHODS or not request.route_handler.opt.get(UPLOADS):
        return
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return
    try:
        length = int(request.headers.get("content-length", "0"))
    except ValueError:
        length = 0
    if length > TEXT_BODY_LIMIT:
        raise HTTPException(status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE)


def new_anon_token() -> str:
    return secrets.token_urlsafe(24)


def require_user(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    if connection.state.viewer.user is None:
        raise NotAuthorizedException("Log in to continue.")


def require_customer(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    require_user(connection, handler)
    user: User = connection.state.viewer.user
    if user.is_staff:
        raise NotFound("This page is for customers.")


def require_staff(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    require_user(connection, handler)
    if not connection.state.viewer.user.is_staff:
        raise NotFound("There is no such page.")


def require_admin(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    require_staff(connection, handler)
    if not connection.state.viewer.user.is_admin:
        raise PermissionDeniedException("Only BBGRUPPEN administrators can do that.")
