"""Small helpers the page controllers share."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.enums import RequestEncodingType
from litestar.params import Body

from core.i18n import N_
from core.models import User
from core.portal import Portal
from core.web.types import HttpRequest
from core.web.viewer import Viewer

FormBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def portal(request: HttpRequest) -> Portal:
    value: Portal = request.app.state.portal
    return value


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
    return {key: form_value(data, key) for key in data if key != "_csrf"}


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
    "mail_retry": N_("Mail will be sent to the address again."),
    "filed_from_mail": N_("The mail has been filed as a new request; it is the request's first message."),
}
