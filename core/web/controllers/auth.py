"""Log in, log out and the language of anonymous visitors."""

from __future__ import annotations

from urllib.parse import urlparse

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.accounts import auth, passwords, throttle
from core.platform.errors import Throttled, ValidationFailed
from core.platform.i18n import LANGUAGES, set_language
from core.platform.i18n import gettext as _
from core.web.common import NOTICES, FormBody, client_address, cookie, form_value, portal, viewer
from core.web.rendering import page
from core.web.types import HttpRequest
from core.web.viewer import ANON_COOKIE, LANGUAGE_COOKIE, SESSION_COOKIE, new_anon_token


def _safe_next(target: str) -> str:
    """Only paths on this site: an open redirect would help phishing."""
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def anonymous_page(request: HttpRequest, template: str, status_code: int = 200, **context: object) -> Template:
    """A page with a form for visitors who may not be logged in: it sets the anonymous CSRF cookie if needed.

    Plugins' public pages (a link mailed to someone who has no portal account) use it too.
    """
    current = viewer(request)
    cookies = []
    if not current.anon_token and current.user is None:
        token = new_anon_token()
        current.anon_token = token
        current.csrf = auth.csrf_token(portal(request).secret_key, token)
        cookies.append(cookie(request, ANON_COOKIE, token, None))
    response = page(template, current, status_code=status_code, **context)
    response.cookies = cookies
    return response


class AuthController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    def _anonymous_page(
        self, request: HttpRequest, template: str, status_code: int = 200, **context: object
    ) -> Template:
        return anonymous_page(request, template, status_code, **context)

    @get("/password/forgot", sync_to_thread=False)
    def forgot_page(self, request: HttpRequest) -> Template:
        return self._anonymous_page(request, "password_forgot.html", sent=False, email="")

    @post("/password/forgot", sync_to_thread=True)
    def forgot(self, request: HttpRequest, data: FormBody) -> Template:
        email = form_value(data, "email").strip()
        if email:
            passwords.request_reset(portal(request), email)
        # The same answer whether or not the address is known.
        return page("password_forgot.html", viewer(request), sent=bool(email), email=email)

    @get("/password/{token:str}", sync_to_thread=True)
    def password_page(self, request: HttpRequest, token: FromPath[str]) -> Template:
        with portal(request).database.reading() as session:
            row = passwords.valid_token(session, portal(request), token)
        return self._anonymous_page(
            request,
            "password_set.html",
            status_code=200 if row else 410,
            token=token,
            valid=row is not None,
            invitation=bool(row and row.purpose == passwords.INVITE),
            errors={},
        )

    @post("/password/{token:str}", sync_to_thread=True)
    def set_password(self, request: HttpRequest, token: FromPath[str], data: FormBody) -> Template | Redirect:
        try:
            user = passwords.set_password(
                portal(request), token, form_value(data, "password"), form_value(data, "repeated")
            )
        except ValidationFailed as exc:
            return page(
                "password_set.html",
                viewer(request),
                status_code=422,
                token=token,
                valid=True,
                invitation=False,
                errors=exc.errors,
            )
        if user is None:
            return page(
                "password_set.html",
                viewer(request),
                status_code=410,
                token=token,
                valid=False,
                invitation=False,
                errors={},
            )
        return Redirect("/login?notice=password_set")

    @get("/login", sync_to_thread=False)
    def login_page(self, request: HttpRequest, next: FromQuery[str] = "/", notice: FromQuery[str] = "") -> Template:
        return self._anonymous_page(
            request, "login.html", next=_safe_next(next), error="", email="", notice=NOTICES.get(notice, "")
        )

    @post("/login", sync_to_thread=True)
    def login(self, request: HttpRequest, data: FormBody) -> Template | Redirect:
        the_portal = portal(request)
        settings = the_portal.settings
        email = form_value(data, "email")
        password = form_value(data, "password")
        target = _safe_next(form_value(data, "next") or "/")
        policy = auth.LoginPolicy.of(settings)
        error = ""
        user = None
        try:
            with the_portal.database.writing() as session:
                user = auth.authenticate(
                    session,
                    email,
                    password,
                    client_address(request),
                    clock=the_portal.clock,
                    policy=policy,
                    device_cookie=request.cookies.get(throttle.DEVICE_COOKIE),
                    secret_key=the_portal.secret_key,
                )
                if user is not None:
                    old = request.cookies.get(SESSION_COOKIE)
                    if old:
                        auth.end_session(session, old, secret_key=the_portal.secret_key)
                    token = auth.start_session(
                        session,
                        user,
                        secret_key=the_portal.secret_key,
                        clock=the_portal.clock,
                        days=settings.session_days,
                    )
        except Throttled as exc:
            error = " ".join((_(exc.detail, **exc.params), _("Or set a new password with “Forgot your password?”.")))
        if user is None:
            error = error or _("The e-mail address or the password is wrong.")
            return page(
                "login.html", viewer(request), status_code=401, next=target, error=error, email=email, notice=""
            )
        response = Redirect(target)
        device = throttle.device_token(the_portal.secret_key, user.id or 0)  # this browser is the owner's now
        response.cookies = [
            cookie(request, SESSION_COOKIE, token, settings.session_days * 86400),
            cookie(request, throttle.DEVICE_COOKIE, device, throttle.DEVICE_COOKIE_DAYS * 86400),
        ]
        return response

    @post("/logout", sync_to_thread=True)
    def logout(self, request: HttpRequest) -> Redirect:
        the_portal = portal(request)
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            with the_portal.database.writing() as session:
                auth.end_session(session, token, secret_key=the_portal.secret_key)
        response = Redirect("/login?notice=logged_out")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @post("/language", sync_to_thread=True)
    def change_language(self, request: HttpRequest, data: FormBody) -> Redirect:
        language = form_value(data, "language")
        if language not in LANGUAGES:
            language = portal(request).settings.default_language
        current = viewer(request)
        if current.user is not None:
            from core.models import User

            with portal(request).database.writing() as session:
                stored = session.get(User, current.user.id)
                if stored is not None:
                    stored.language = language
                    session.add(stored)
        set_language(language)
        response = Redirect(_safe_next(form_value(data, "next") or "/"))
        response.cookies = [cookie(request, LANGUAGE_COOKIE, language, 365 * 86400)]
        return response
