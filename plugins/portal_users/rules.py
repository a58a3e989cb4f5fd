"""The rules a change of users must keep, checked when a request is filed and again when it is carried out."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.api import N_, RequestView, Role, UserKind, UserView
from core.api import open_requests as open_requests_of_type
from core.api import organisation_users as directory_users

KEY = "portal_users"

LAST_USER = N_("You cannot remove your organisation's last user.")
LAST_ADMINISTRATOR = N_("Your organisation must keep at least one administrator. Add another administrator first.")


def organisation_users(session: Session, organisation_id: int, *, active_only: bool = True) -> list[UserView]:
    """The organisation's customer users by name."""
    return directory_users(session, organisation_id, active_only=active_only)


def may_return(existing: UserView, organisation_id: int) -> bool:
    """A removed user of this organisation may be added again (the account reopens); no other address may."""
    return existing.kind == UserKind.CUSTOMER and existing.organisation_id == organisation_id and not existing.active


def removal_problem(session: Session, organisation_id: int, target: UserView) -> str | None:
    """Why removing ``target`` now would leave the organisation unmanageable (a message id), or None.

    Nobody could then file requests (no active user) or manage users (no active administrator): only
    BBGRUPPEN's staff could repair that, so the portal refuses instead.
    """
    remaining = [user for user in organisation_users(session, organisation_id) if user.id != target.id]
    if not remaining:
        return LAST_USER
    if target.role == Role.ADMINISTRATOR and not any(user.role == Role.ADMINISTRATOR for user in remaining):
        return LAST_ADMINISTRATOR
    return None


def open_requests(session: Session, organisation_id: int, *, kind: str) -> list[RequestView]:
    """The organisation's requests of this type that are still open, of one variant (``add``, ``remove``)."""
    found = open_requests_of_type(session, KEY, organisation_id)
    return [request for request in found if _task(request).get("kind") == kind]


def _task(request: RequestView) -> dict[str, Any]:
    task = (request.data or {}).get("task")
    return task if isinstance(task, dict) else {}


def open_request_adding(session: Session, organisation_id: int, email: str) -> RequestView | None:
    return next(
        (r for r in open_requests(session, organisation_id, kind="add") if _task(r).get("email") == email), None
    )


def open_request_removing(session: Session, organisation_id: int, user_id: int) -> RequestView | None:
    return next(
        (r for r in open_requests(session, organisation_id, kind="remove") if _task(r).get("user_id") == user_id),
        None,
    )
