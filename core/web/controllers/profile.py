"""The user's own profile: language and personal API tokens."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import col, select

from core.accounts import auth
from core.models import ApiToken, User
from core.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.platform.i18n import gettext
from core.web.common import NOTICES, FormBody, form_value, portal, user, viewer
from core.web.rendering import page
from core.web.types import HttpRequest
from core.web.viewer import require_user


class ProfileController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    path = "/profile"
    guards = [require_user]

    def _page(
        self, request: HttpRequest, *, new_token: str = "", notice: str = "", error: str = "", status_code: int = 200
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
