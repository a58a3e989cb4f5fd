"""The public page behind the mailed link: GET shows a button (scanners may fetch it), POST sets and shows the password.

No log-in: the recipient is whoever the hosted system has for the account. The POST is CSRF-checked like
every form (the anonymous cookie binds the token). The page that shows the password is never cached or
referred on, and the password is in no log, chat or table: only in that one response.
"""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Template

from core.api import HttpRequest, anonymous_page, render_page, secret_path
from core.api import portal_of as portal
from core.api import viewer_of as viewer
from plugins.password_reset import links

TEMPLATE = "password_reset_link.html"
secret_path("/password-reset/")  # the token is in the path: the access log must not keep it
PRIVATE_HEADERS = {
    "Cache-Control": "no-store, max-age=0",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
STATUS = {
    links.Outcome.SET: 200,
    links.Outcome.INVALID: 410,
    links.Outcome.UNAVAILABLE: 503,
    links.Outcome.REFUSED: 409,
}


def _private(response: Template) -> Template:
    response.headers.update(PRIVATE_HEADERS)
    return response


class PasswordResetLinkController(Controller):
    """A controller, not loose handler functions: Litestar prepares a handler for the app it joins, and a
    function object shared by several apps (one per test, a web and an API process) would be prepared twice."""

    path = "/password-reset"
    include_in_schema = False

    @get("/{token:str}", sync_to_thread=True)
    def link_page(self, request: HttpRequest, token: FromPath[str]) -> Template:
        the_portal = portal(request)
        with the_portal.database.reading() as session:
            link = links.find(session, the_portal, token)
        if link is None:
            return _private(anonymous_page(request, TEMPLATE, 410, state=links.Outcome.INVALID.value))
        return _private(
            anonymous_page(
                request, TEMPLATE, 200, state="confirm", token=token, service=link.service, username=link.username
            )
        )

    @post("/{token:str}", sync_to_thread=True)
    def set_password(self, request: HttpRequest, token: FromPath[str]) -> Template:
        result = links.use(portal(request), token)
        return _private(
            render_page(
                TEMPLATE,
                viewer(request),
                status_code=STATUS[result.outcome],
                state=result.outcome.value,
                token=token if result.outcome == links.Outcome.UNAVAILABLE else "",
                service=result.service,
                username=result.username,
                password=result.password,
            )
        )
