"""The security headers of every answer — pages, the API, redirects, errors, static files — set in one place.

A ``before_send`` hook of the app adds them to each response as it starts, so a route added later has them
without doing anything, and so do answers no route handler made (a 404 for an unknown path, a 405). A
response that brings its own header keeps it: file downloads send a stricter, sandboxing policy
(``core.web.downloads``) and their own caching.

- ``Content-Security-Policy``: scripts only from our own static files (no inline script, no ``on…=``
  attributes, no ``eval``), styles only from ``/static/style.css``, nothing may frame a page
  (``frame-ancestors 'none'``), forms post only to us. One route option relaxes it: :data:`INLINE_STYLES`
  for a page that shows someone else's HTML with its own ``style=`` attributes (the development mail page,
  which shows mails in a sandboxed frame). The API documentation pages under ``/schema`` are drawn by scripts
  Litestar loads from public CDNs with a small inline starter script; they get :data:`API_DOCS_POLICY`.
- ``Referrer-Policy``: ``no-referrer`` where the URL carries a secret (the paths registered with
  :func:`core.web.logging.secret_path`, e.g. ``/password/<token>``), ``same-origin`` elsewhere.
- ``Cache-Control: no-store`` unless the response chose its own caching (downloads, static files): a page
  or an API answer about someone's requests is never kept by the browser or a proxy.
- ``Strict-Transport-Security`` and the ``Secure`` flag on every cookie when the portal's base URL is https.
"""

from __future__ import annotations

from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from core.web import logging as access_log

INLINE_STYLES = "inline_styles"
"""Route option: the page shows HTML that brings its own ``style=`` attributes; ``style-src`` allows them."""

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
INLINE_STYLES_POLICY = PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
API_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://unpkg.com "
    "https://cdn.redoc.ly; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://unpkg.com "
    "https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com data:; img-src 'self' data: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""Only for Litestar's API viewers under ``/schema`` (Swagger UI, ReDoc …): third-party pages that show the
OpenAPI document and nothing of anyone's data. The document itself (``/schema/openapi.json``) is JSON."""
API_DOCS_PREFIX = "/schema"
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
    "interest-cohort=(), browsing-topics=()"
)
HSTS = "max-age=31536000; includeSubDomains"
STATIC_PREFIX = "/static/"

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def referrer_policy(path: str) -> str:
    """``no-referrer`` where the path carries a secret token: a link followed from that page must not pass it on."""
    for prefix in access_log.SECRET_PATHS:
        rest = path[len(prefix) :] if path.startswith(prefix) else ""
        if rest and rest.split("/", 1)[0] not in access_log.NOT_TOKENS:
            return "no-referrer"
    return "same-origin"


def content_security_policy(scope: Scope) -> str:
    path: str = scope.get("path", "")
    documents = (".json", ".yaml", ".yml")
    if path == API_DOCS_PREFIX or (path.startswith(API_DOCS_PREFIX + "/") and not path.endswith(documents)):
        return API_DOCS_POLICY
    handler = scope.get("route_handler")
    if handler is not None and handler.opt.get(INLINE_STYLES):
        return INLINE_STYLES_POLICY
    return PAGE_POLICY


def security_headers(*, https: bool) -> BeforeMessageSendHookHandler:
    """The app's ``before_send`` hook; ``https`` (the base URL's scheme) adds HSTS and marks cookies ``Secure``."""

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers") or [])
        present = {name.lower() for name, _value in headers}
        path: str = scope.get("path", "")
        wanted = [
            *_COMMON,
            (b"content-security-policy", content_security_policy(scope).encode()),
            (b"referrer-policy", referrer_policy(path).encode()),
        ]
        if not path.startswith(STATIC_PREFIX):
            wanted.append((b"cache-control", b"no-store"))
        if https:
            wanted.append((b"strict-transport-security", HSTS.encode()))
            headers = [_secure_cookie(name, value) for name, value in headers]
        headers.extend((name, value) for name, value in wanted if name not in present)
        message["headers"] = headers

    return add_headers


def _secure_cookie(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    if name.lower() != b"set-cookie" or b"; secure" in value.lower():
        return name, value
    return name, value + b"; Secure"
