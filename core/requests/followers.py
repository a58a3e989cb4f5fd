"""Who follows a request: the requester from the start; any user of the organisation may follow or stop."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.models import Request, RequestFollower, User
from core.platform.db import insert_rows


def start_following(session: Session, request: Request, user: User, following: bool = True) -> None:
    row = session.get(RequestFollower, (request.id, user.id))
    if row is None:
        row = RequestFollower(request_id=request.id or 0, user_id=user.id or 0, following=following)
    row.following = following
    session.add(row)


def follow_new_request(session: Session, request: Request, user: User) -> None:
    """The requester follows the request they just filed (nothing to look up: the request is new)."""
    insert_rows(session, RequestFollower, [{"request_id": request.id, "user_id": user.id, "following": True}])


def is_following(session: Session, request_id: int, user_id: int) -> bool:
    row = session.get(RequestFollower, (request_id, user_id))
    return bool(row and row.following)


def followers(session: Session, request: Request) -> list[User]:
    """Active users of the request's organisation who follow it."""
    return list(
        session.exec(
            select(User)
            .join(RequestFollower, col(RequestFollower.user_id) == col(User.id))
            .where(
                RequestFollower.request_id == request.id,
                col(RequestFollower.following).is_(True),
                col(User.active).is_(True),
                User.organisation_id == request.organisation_id,
            )
            .order_by(col(User.id))
        )
    )
