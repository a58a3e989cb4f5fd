"""Reading requests: the one place customer queries are scoped to the viewer's organisation, and the queue.

Lists use keyset pagination (a cursor of the last row's sort key), so a page costs the same on row
100,000 as on row 1, and they join the names they show instead of loading them row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.orm import aliased, defer
from sqlmodel import Session, col, select

from core.clock import as_utc
from core.errors import NotFound
from core.models import Organisation, Request, RequestHistory, User
from core.statuses import OPEN, Status


@dataclass
class RequestRow:
    request: Request
    requester_name: str
    organisation_name: str = ""
    assignee_name: str = ""


@dataclass
class Page:
    rows: list[RequestRow]
    next_cursor: str | None


MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in the schema: anything larger names nothing (a 404, not a database error)."""


def valid_id(value: int | None) -> bool:
    return value is not None and 0 < value <= MAX_ID


def visible_to(user: User) -> Any:
    """The filter every customer-facing request query goes through: staff see all, customers their own."""
    if user.is_staff:
        return True
    return Request.organisation_id == (user.organisation_id if user.organisation_id is not None else -1)


def get_request(session: Session, user: User, request_id: int) -> Request:
    """The request, or NotFound when it does not exist *or* belongs to another organisation."""
    if not valid_id(request_id):
        raise NotFound("There is no such request.")
    request = session.exec(select(Request).where(Request.id == request_id, visible_to(user))).first()
    if request is None:
        raise NotFound("There is no such request.")
    return request


def _listing() -> Any:
    """Requests with the names a list shows, joined in the same query (no query per row)."""
    assignee = aliased(User)
    return (
        select(Request, User.name, Organisation.name, assignee.name)
        .join(User, col(Request.requester_id) == col(User.id))
        .join(Organisation, col(Request.organisation_id) == col(Organisation.id))
        .outerjoin(assignee, col(Request.assignee_id) == col(assignee.id))
    )


def list_requests(
    session: Session,
    user: User,
    *,
    statuses: list[Status] | None = None,
    type_key: str | None = None,
    organisation_id: int | None = None,
    cursor: str | None = None,
    limit: int = 25,
    with_data: bool = False,
) -> Page:
    """Newest first. Customers get their organisation's requests; staff may filter by organisation."""
    query = _listing().where(visible_to(user))
    if statuses:
        query = query.where(col(Request.status).in_([s.value for s in statuses]))
    if type_key:
        query = query.where(Request.type_key == type_key)
    if organisation_id is not None and user.is_staff:
        query = query.where(Request.organisation_id == organisation_id)
    before = _int_cursor(cursor)
    if before is not None:
        query = query.where(col(Request.id) < before)
    if not with_data:
        query = query.options(defer(Request.data))  # type: ignore[arg-type]
    rows = session.exec(query.order_by(col(Request.id).desc()).limit(limit + 1)).all()
    page = [RequestRow(r, requester or "", org or "", held or "") for r, requester, org, held in rows[:limit]]
    next_cursor = str(page[-1].request.id) if len(rows) > limit and page else None
    return Page(page, next_cursor)


PRIORITIES = (1, 0)
"""Urgent, then normal (a request type may mark a request urgent)."""


def queue(
    session: Session,
    *,
    statuses: list[Status] | None = None,
    type_key: str | None = None,
    organisation_id: int | None = None,
    cursor: str | None = None,
    limit: int = 25,
    with_data: bool = False,
) -> Page:
    """The staff queue: urgent first, then by the moment each request joined the queue, ties by id.

    One query per priority level, each an ordered range of ``ix_request_queue`` (status, priority,
    queued_at, id), so the page costs the same with 40,000 requests waiting as with 40.
    """
    wanted = statuses or [Status.PENDING]
    after = _queue_cursor(cursor)
    rows: list[Any] = []
    for priority in PRIORITIES:
        if after is not None and priority > after[0]:
            continue  # the cursor is already past this level
        query = _listing().where(
            col(Request.status).in_([s.value for s in wanted]),
            col(Request.priority) == priority,
            col(Request.queued_at).is_not(None),
        )
        if type_key:
            query = query.where(Request.type_key == type_key)
        if organisation_id is not None:
            query = query.where(Request.organisation_id == organisation_id)
        if after is not None and priority == after[0]:
            _priority, queued_at, request_id = after
            query = query.where(
                or_(
                    col(Request.queued_at) > queued_at,
                    and_(col(Request.queued_at) == queued_at, col(Request.id) > request_id),
                )
            )
        query = query.order_by(col(Request.queued_at).asc(), col(Request.id).asc())
        if not with_data:
            query = query.options(defer(Request.data))  # type: ignore[arg-type]
        rows.extend(session.exec(query.limit(limit + 1 - len(rows))).all())
        if len(rows) > limit:
            break
    page = [RequestRow(r, requester or "", org or "", held or "") for r, requester, org, held in rows[:limit]]
    next_cursor = None
    if len(rows) > limit and page:
        last = page[-1].request
        stamp = as_utc(last.queued_at).isoformat() if last.queued_at else ""
        next_cursor = f"{last.priority}|{stamp}|{last.id}"
    return Page(page, next_cursor)


def needing_attention(session: Session, *, limit: int = 50) -> list[RequestRow]:
    """Open requests an automatic step failed on and nobody holds: they wait for staff outside the pending
    queue (``in_progress``, flagged), so the queue page lists them above it. Urgent and oldest first."""
    query = (
        _listing()
        .where(
            col(Request.needs_attention).is_(True),
            col(Request.status).in_([s.value for s in OPEN]),
            col(Request.assignee_id).is_(None),
        )
        .order_by(col(Request.priority).desc(), col(Request.queued_at).asc(), col(Request.id).asc())
        .options(defer(Request.data))  # type: ignore[arg-type]
        .limit(limit)
    )
    return [RequestRow(r, requester or "", org or "", held or "") for r, requester, org, held in session.exec(query)]


def history(session: Session, request_id: int) -> list[tuple[RequestHistory, str | None]]:
    rows = session.exec(
        select(RequestHistory, User.name)
        .outerjoin(User, col(RequestHistory.actor_id) == col(User.id))
        .where(RequestHistory.request_id == request_id)
        .order_by(col(RequestHistory.id))
    ).all()
    return [(row, name) for row, name in rows]


def _int_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = int(cursor)
    except ValueError:
        return None
    return value if valid_id(value) else None


def _queue_cursor(cursor: str | None) -> tuple[int, datetime, int] | None:
    if not cursor:
        return None
    try:
        priority, stamp, request_id = cursor.split("|")
        parsed = int(priority), datetime.fromisoformat(stamp), int(request_id)
    except ValueError:
        return None
    return parsed if valid_id(parsed[2]) and abs(parsed[0]) < 1000 else None
