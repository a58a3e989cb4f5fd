"""What waits for the customer: the organisation's requests in "Väntar på kund", counted for every page.

The customer's navigation shows the count on every page they see, so it is one prebuilt statement answered
from the index ``ix_request_org_status_id`` (organisation, status, id) alone, and it stops counting at
:data:`BADGE_MAX` + 1 (the badge says "99+"): the cost grows neither with the organisation's history nor with a
backlog of questions. The start page counts them all and lists the newest few by number and title.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session

from core.models import Request, User, title_in
from core.platform.db import Database
from core.platform.i18n import current_language
from core.requests.statuses import Status

_REQUEST: Table = Request.__table__  # type: ignore[attr-defined]
BADGE_MAX = 99
"""The navigation's badge shows up to this many; more is "99+" (and is not counted further)."""


@dataclass(frozen=True, slots=True)
class WaitingRequest:
    """A request waiting for the customer's answer, as the start page links to it."""

    id: int
    summary: str
    summary_en: str | None = None

    @property
    def number(self) -> str:
        return f"BB-{self.id}"

    @property
    def title(self) -> str:
        """The title in the reader's language (see :attr:`core.models.Request.title`)."""
        return title_in(current_language(), self.summary, self.summary_en)


@lru_cache(maxsize=1)
def _count_statement() -> Select[Any]:
    r = _REQUEST.c
    return (
        sa_select(func.count())
        .select_from(_REQUEST)
        .where(r.organisation_id == bindparam("organisation_id"), r.status == Status.WAITING_FOR_CUSTOMER.value)
    )


@lru_cache(maxsize=1)
def _capped_count_statement() -> Select[Any]:
    r = _REQUEST.c
    waiting = (
        sa_select(r.id)
        .where(r.organisation_id == bindparam("organisation_id"), r.status == Status.WAITING_FOR_CUSTOMER.value)
        .limit(BADGE_MAX + 1)
        .subquery()
    )
    return sa_select(func.count()).select_from(waiting)


@lru_cache(maxsize=1)
def _newest_statement() -> Select[Any]:
    r = _REQUEST.c
    return (
        sa_select(r.id, r.summary, r.summary_en)
        .where(r.organisation_id == bindparam("organisation_id"), r.status == Status.WAITING_FOR_CUSTOMER.value)
        .order_by(r.id.desc())
        .limit(bindparam("limit"))
    )


def waiting_count(session: Session, user: User, *, for_badge: bool = False) -> int:
    """How many of the user's organisation's requests wait for an answer from the customer (0 for staff); for the
    badge, at most :data:`BADGE_MAX` + 1."""
    if user.is_staff or user.organisation_id is None:
        return 0
    statement = _capped_count_statement() if for_badge else _count_statement()
    found = session.connection().execute(statement, {"organisation_id": user.organisation_id}).scalar()
    return int(found or 0)


def newest_waiting(session: Session, user: User, *, limit: int = 5) -> list[WaitingRequest]:
    """The newest ``limit`` requests waiting for the customer, newest first (none for staff)."""
    if user.is_staff or user.organisation_id is None:
        return []
    rows = session.connection().execute(_newest_statement(), {"organisation_id": user.organisation_id, "limit": limit})
    return [WaitingRequest(int(row.id), str(row.summary or ""), row.summary_en) for row in rows]


def badge_label(count: int) -> str:
    """The badge's text: the count, or "99+" past :data:`BADGE_MAX`."""
    return str(count) if count <= BADGE_MAX else f"{BADGE_MAX}+"


def count_for(database: Database, user: User | None) -> int:
    """The navigation's count for whoever sees the page: one read, and none at all for staff or nobody."""
    if user is None or user.is_staff or user.organisation_id is None:
        return 0
    with database.reading() as session:
        return waiting_count(session, user, for_badge=True)
