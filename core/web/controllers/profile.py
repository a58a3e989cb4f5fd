"""The user's own profile: language, notifications, password and personal API tokens."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import col, select

from core.accounts import auth, passwords, throttle
from core.models import ApiToken, User
from core.platform.errors import Conflict, Forbidden, NotFound, Throttled, ValidationFailed
from core.platform.i18n import gettext
from core.web.common import NOTICES, FormBody, client_address, cookie, form_value, portal, user, viewer
from core.web.rendering import page
from core.web.types import HttpRequest
from core.web.viewer import SESSION_COOKIE, require_user


class ProfileController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    path = "/profile"
    guards = [require_user]

    def _page(
        self,
        request: HttpRequest,
        *,
        new_token: str = "",
        notice: str = "",
        error: str = "",
        password_errors: dict[str, list[str]] | None = None,
        status_code: int = 200,
    ) -> Template:
        with portal(request).database.reading() as session:
            tokens = list(
                session.exec(
                    select(ApiToken).where(ApiToken.user_id == user(request).id).order_by(col(ApiToken.id).desc())
                )
            )
        return page(
            "profile.html",
            viewer(request),
            status_code=status_code,
            tokens=tokens,
            new_token=new_token,
            notice=notice,
            token_error=error,
            password_errors=password_errors or {},
        )

    @get("/", sync_to_thread=True)
    def show(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template:
        return self._page(request, notice=NOTICES.get(notice, ""))

    @post("/notifications", sync_to_thread=True)
    def notifications(self, request: HttpRequest, data: FormBody) -> Redirect:
        choice = form_value(data, "notify")
        if choice not in ("all", "answer_needed", "none"):
            raise ValidationFailed({"notify": [gettext("Choose one of the options.")]})
        with portal(request).database.writing() as session:
            stored = session.get(User, user(request).id)
            if stored is not None:
                stored.notify = choice
                session.add(stored)
        return Redirect("/profile?notice=saved#notifications")

    @post("/password", sync_to_thread=True)
    def change_password(self, request: HttpRequest, data: FormBody) -> Template | Redirect:
        """Prove the current password (throttled as a log-in), choose a new one; every other session ends."""
        the_portal, current = portal(request), user(request)
        settings = the_portal.settings
        if viewer(request).via_token:
            raise Forbidden("A password is changed on the profile page by someone logged in, not with a token.")
        policy = auth.LoginPolicy.of(settings)
        new, repeated = form_value(data, "new_password"), form_value(data, "repeated_password")
        errors = passwords.new_password_errors(new, repeated, fields=("new_password", "repeated_password"))
        try:
            with the_portal.database.writing() as session:  # its own transaction: a failure is counted
                proven = auth.authenticate(
                    session,
                    current.email,
                    form_value(data, "current_password"),
                    client_address(request),
                    clock=the_portal.clock,
                    policy=policy,
                    device_cookie=request.cookies.get(throttle.DEVICE_COOKIE),
                    secret_key=the_portal.secret_keys,
                )
        except Throttled as exc:
            errors = {"current_password": [gettext(exc.detail, **exc.params)], **errors}
        else:
            if proven is None or proven.id != current.id:
                errors = {"current_password": [gettext("The current password is wrong.")], **errors}
        if errors:
            return self._page(request, password_errors=errors, status_code=422)
        with the_portal.database.writing() as session:
            passwords.change_password(session, current.id or 0, new)
            token = auth.start_session(
                session, current, secret_key=the_portal.secret_key, clock=the_portal.clock, days=settings.session_days
            )
        response = Redirect("/profile?notice=password_changed#password")
        response.cookies = [cookie(request, SESSION_COOKIE, token, settings.session_days * 86400)]
        return response

    @post("/tokens", sync_to_thread=True)
    def create_token(self, request: HttpRequest, data: FormBody) -> Template:
        if viewer(request).via_token:  # a token that could mint tokens would outlive its own revocation
            raise Forbidden("API tokens are made on the profile page by someone logged in, not with another token.")
        the_portal = portal(request)
        try:
            with the_portal.database.writing() as session:
                token = auth.create_api_token(
                    session,
                    user(request),
                    form_value(data, "name"),
                    secret_key=the_portal.secret_key,
                    clock=the_portal.clock,
                )
        except Conflict as exc:
            return self._page(request, error=gettext(exc.detail, **exc.params), status_code=409)
        return self._page(request, new_token=token)

    @post("/tokens/{token_id:int}/revoke", sync_to_thread=True)
    def revoke_token(self, request: HttpRequest, token_id: FromPath[int]) -> Redirect:
        the_portal = portal(request)
        with the_portal.database.writing() as session:
            token = session.get(ApiToken, token_id)
            if token is None or token.user_id != user(request).id:
                raise NotFound("There is no such token.")
            token.revoked_at = token.revoked_at or the_portal.clock.now()
            session.add(token)
        return Redirect("/profile?notice=token_revoked")
