"""The request lists people work from: views (mine, unassigned, waiting for the customer …), filters, sortable
columns, a total count and pages both ways — for staff over everything, for customers over their organisation.

Pages are keyset pages (the last or first row's sort key, never an offset), each sort backed by an index
ending in ``id`` (``ix_request_type_id``, ``ix_request_status_id``, ``ix_request_updated_id``, the key itself;
"mine" and "unassigned" read ``ix_request_assignee_status_id``),
so that a page deep in a million requests costs what the first does. The queue's own order (urgent first, then
the time each request joined the queue) is :func:`core.requests.queries.queue`'s, one index range per priority
level, read forwards or backwards. The count stops at :data:`COUNT_CAP`: past it the page says "more than";
counting a million rows on every page view would cost more than the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session

from core.models import User
from core.platform.clock import LOCAL_ZONE, as_utc
from core.requests.queries import (
    _CONDITIONS,
    _REQUEST,
    _USER,
    PRIORITIES,
    RequestRow,
    _listing,
    _rows,
    valid_id,
)
from core.requests.statuses import OPEN, Status

COUNT_CAP = 1_000
EXPORT_MAX = 50_000
"""An export holds at most this many rows (the newest, in the list's order); the file says so in its name."""

STAFF_VIEWS = ("queue", "mine", "unassigned", "waiting", "attention", "all")
CUSTOMER_VIEWS = ("all", "mine", "waiting")
WORKING = [Status.PENDING.value, Status.IN_PROGRESS.value, Status.WAITING_FOR_CUSTOMER.value]
SORTS = {"number": "id", "type": "type_key", "status": "status", "updated": "updated_at"}
"""Sortable columns: the name in the address → the column (each with an index ending in ``id``)."""


@dataclass(frozen=True)
class ListQuery:
    """What a list shows: a view, filters and an order, as given in the page's address."""

    view: str = "all"
    status: Status | None = None
    type_key: str | None = None
    organisation_id: int | None = None
    requester_id: int | None = None
    filed_from: date | None = None
    filed_to: date | None = None
    sort: str = ""
    """``number``, ``-number`` (descending) …; empty: the view's own order (the queue's, or newest first)."""

    @property
    def sort_key(self) -> tuple[str, bool]:
        """(column, descending) of the chosen order; newest first when none is chosen."""
        name = self.sort.removeprefix("-")
        if name in SORTS:
            return SORTS[name], self.sort.startswith("-")
        return "id", True

    @property
    def in_queue_order(self) -> bool:
        return self.view == "queue" and not self.sort


@dataclass
class ListPage:
    rows: list[RequestRow]
    next_cursor: str | None
    previous_cursor: str | None
    total: int
    more_than: bool
    """``total`` is :data:`COUNT_CAP` and there are more."""


def _local_midnight(day: date) -> datetime:
    return as_utc(datetime.combine(day, time(0), tzinfo=LOCAL_ZONE))


def _shape(user: User, query: ListQuery) -> tuple[list[str], dict[str, Any]]:
    """The conditions (by name, see ``queries._CONDITIONS``) and their values for ``query`` as ``user`` sees it."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    organisation_id = query.organisation_id
    if not user.is_staff:
        organisation_id = user.organisation_id if user.organisation_id is not None else -1
    if organisation_id is not None:
        conditions.append("organisation")
        params["organisation_id"] = organisation_id
    view = query.view
    if view == "queue":  # the pending queue, or the requests of another status in the queue's order
        conditions.append("view_statuses")
        params["view_statuses"] = [(query.status or Status.PENDING).value]
    elif view == "mine" and user.is_staff:
        conditions += ["assignee", "view_statuses"]
        params.update(assignee_id=user.id, view_statuses=[s.value for s in OPEN])
    elif view == "mine":
        conditions.append("requester")
        params["requester_id"] = user.id
    elif view == "unassigned":
        conditions += ["unassigned", "view_statuses"]
        params["view_statuses"] = WORKING
    elif view == "waiting":
        conditions.append("view_statuses")
        params["view_statuses"] = [Status.WAITING_FOR_CUSTOMER.value]
    elif view == "attention":
        conditions.append("attention")
    if query.status is not None and view != "queue":
        conditions.append("status")
        params["status"] = query.status.value
    if query.type_key:
        conditions.append("type")
        params["type_key"] = query.type_key
    if query.requester_id is not None and not (view == "mine" and not user.is_staff):
        conditions.append("requester")
        params["requester_id"] = query.requester_id
    if query.filed_from is not None:
        conditions.append("filed_from")
        params["filed_from"] = _local_midnight(query.filed_from)
    if query.filed_to is not None:
        conditions.append("filed_to")
        params["filed_to"] = _local_midnight(query.filed_to + timedelta(days=1))
    return conditions, params


@lru_cache(maxsize=256)
def _sorted(conditions: tuple[str, ...], column: str, descending: bool, after: bool, with_data: bool) -> Select[Any]:
    """A page's statement: ordered by (column, id), from a cursor onwards when ``after``; descending reads the
    index backwards. Built once per shape, values bound at execution."""
    key, ident = _REQUEST.c[column], _REQUEST.c.id
    statement = _listing(with_data, *conditions)
    if after:
        if column == "id":
            statement = statement.where(
                ident < bindparam("cursor_id") if descending else ident > bindparam("cursor_id")
            )
        else:
            beyond = key < bindparam("cursor_value") if descending else key > bindparam("cursor_value")
            same = and_(
                key == bindparam("cursor_value"),
                ident < bindparam("cursor_id") if descending else ident > bindparam("cursor_id"),
            )
            statement = statement.where(or_(beyond, same))
    order: list[ColumnElement[Any]] = [] if column == "id" else [key.desc() if descending else key.asc()]
    order.append(ident.desc() if descending else ident.asc())
    return statement.order_by(*order).limit(bindparam("limit"))


def _cursor_of(row: RequestRow, column: str) -> str:
    summary = row.request
    value = getattr(summary, column)
    if isinstance(value, datetime):
        value = as_utc(value).isoformat()
    return f"{value}|{summary.id}"


def _parse_cursor(cursor: str | None, column: str) -> tuple[bool, Any, int] | None:
    """(backwards, value, id) of a cursor ``>value|id`` (the page after) or ``<value|id`` (the page before)."""
    if not cursor or cursor[0] not in "<>":
        return None
    raw, _bar, ident = cursor[1:].rpartition("|")
    if not (ident.isascii() and ident.isdigit()) or not valid_id(int(ident)):
        return None
    value: Any = raw
    if column == "updated_at":
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            return None
    return cursor[0] == "<", value, int(ident)


def page(session: Session, user: User, query: ListQuery, *, cursor: str | None = None, limit: int = 25) -> ListPage:
    """One page of the list, with the cursors of the pages before and after it and the (capped) count."""
    conditions, params = _shape(user, query)
    if query.in_queue_order:
        rows, next_cursor, previous_cursor = _queue_page(session, conditions, params, cursor, limit)
    else:
        rows, next_cursor, previous_cursor = _sorted_page(session, conditions, params, query, cursor, limit)
    total, more = count(session, user, query)
    return ListPage(rows, next_cursor, previous_cursor, total, more)


def _sorted_page(
    session: Session, conditions: list[str], params: dict[str, Any], query: ListQuery, cursor: str | None, limit: int
) -> tuple[list[RequestRow], str | None, str | None]:
    column, descending = query.sort_key
    parsed = _parse_cursor(cursor, column)
    backwards = parsed is not None and parsed[0]
    values = {**params, "limit": limit + 1}
    if parsed is not None:
        values.update(cursor_value=parsed[1], cursor_id=parsed[2])
    statement = _sorted(tuple(conditions), column, descending != backwards, parsed is not None, False)
    rows = _rows(session, statement, values, False)
    return _page(rows, limit, backwards, parsed is not None, lambda row: _cursor_of(row, column))


@lru_cache(maxsize=128)
def _queue_level(conditions: tuple[str, ...], after: bool, backwards: bool) -> Select[Any]:
    at, ident = _REQUEST.c.queued_at, _REQUEST.c.id
    statement = _listing(False, *conditions, "priority")
    if after:
        if backwards:
            statement = statement.where(
                or_(at < bindparam("after_at"), and_(at == bindparam("after_at"), ident < bindparam("after_id")))
            )
        else:
            statement = statement.where(
                or_(at > bindparam("after_at"), and_(at == bindparam("after_at"), ident > bindparam("after_id")))
            )
    order = (at.desc(), ident.desc()) if backwards else (at.asc(), ident.asc())
    return statement.order_by(*order).limit(bindparam("limit"))


def _queue_cursor(row: RequestRow) -> str:
    summary = row.request
    stamp = as_utc(summary.queued_at).isoformat() if summary.queued_at else ""
    return f"{summary.priority}|{stamp}|{summary.id}"


def _parse_queue_cursor(cursor: str | None) -> tuple[bool, int, datetime, int] | None:
    if not cursor or cursor[0] not in "<>":
        return None
    try:
        priority, stamp, ident = cursor[1:].split("|")
        parsed = int(priority), datetime.fromisoformat(stamp), int(ident)
    except ValueError:
        return None
    if not valid_id(parsed[2]) or abs(parsed[0]) >= 1000:
        return None
    return cursor[0] == "<", *parsed


def _queue_page(
    session: Session, conditions: list[str], params: dict[str, Any], cursor: str | None, limit: int
) -> tuple[list[RequestRow], str | None, str | None]:
    """The queue's order (urgent first, then by the time each joined the queue, ties by id), one index range
    per priority level; backwards walks the levels from the least urgent up."""
    parsed = _parse_queue_cursor(cursor)
    backwards = parsed is not None and parsed[0]
    levels = tuple(reversed(PRIORITIES)) if backwards else PRIORITIES
    rows: list[RequestRow] = []
    for priority in levels:
        after = False
        level: dict[str, Any] = {**params, "priority": priority, "limit": limit + 1 - len(rows)}
        if parsed is not None:
            _back, at_priority, stamp, ident = parsed
            if (priority > at_priority) if not backwards else (priority < at_priority):
                continue  # the cursor is already past this level
            if priority == at_priority:
                after = True
                level.update(after_at=stamp, after_id=ident)
        rows.extend(_rows(session, _queue_level(tuple(conditions), after, backwards), level, False))
        if len(rows) > limit:
            break
    return _page(rows, limit, backwards, parsed is not None, _queue_cursor)


@lru_cache(maxsize=128)
def _count_statement(conditions: tuple[str, ...]) -> Select[Any]:
    matching = sa_select(_REQUEST.c.id).where(*(_CONDITIONS[name]() for name in conditions))
    return sa_select(func.count()).select_from(matching.limit(bindparam("cap")).subquery())


def count(session: Session, user: User, query: ListQuery) -> tuple[int, bool]:
    """How many requests the list holds, up to :data:`COUNT_CAP` (then ``(COUNT_CAP, True)``)."""
    conditions, params = _shape(user, query)
    if query.view == "queue":
        conditions = [*conditions, "queued"]
    found = (
        session.connection().execute(_count_statement(tuple(conditions)), {**params, "cap": COUNT_CAP + 1}).scalar_one()
    )
    return (COUNT_CAP, True) if found > COUNT_CAP else (int(found), False)


def every_row(session: Session, user: User, query: ListQuery, *, chunk: int = 1000) -> Iterator[RequestRow]:
    """Every row of the list in its order, a page at a time (the export), at most :data:`EXPORT_MAX`."""
    cursor: str | None = None
    given = 0
    while given < EXPORT_MAX:
        conditions, params = _shape(user, query)
        if query.in_queue_order:
            rows, cursor, _previous = _queue_page(session, conditions, params, cursor, chunk)
        else:
            rows, cursor, _previous = _sorted_page(session, conditions, params, query, cursor, chunk)
        yield from rows[: EXPORT_MAX - given]
        given += len(rows)
        if cursor is None:
            return


@dataclass(frozen=True, slots=True)
class RequesterChoice:
    id: int
    name: str


def requester_choices(session: Session, organisation_id: int) -> list[RequesterChoice]:
    """The organisation's users by name: the requester filter once an organisation is chosen."""
    found = session.connection().execute(
        sa_select(_USER.c.id, _USER.c.name).where(_USER.c.organisation_id == organisation_id).order_by(_USER.c.name)
    )
    return [RequesterChoice(*row) for row in found]


__all__ = [
    "COUNT_CAP",
    "CUSTOMER_VIEWS",
    "STAFF_VIEWS",
    "ListPage",
    "ListQuery",
    "count",
    "every_row",
    "page",
    "replace",
]


def _page(
    rows: list[Any], limit: int, backwards: bool, from_cursor: bool, cursor: Callable[[Any], str]
) -> tuple[list[Any], str | None, str | None]:
    """One page of ``rows`` (read ``limit + 1`` deep, newest-last when read ``backwards``): the rows in the list's
    order and the cursors of the next and the previous page (None where there is none)."""
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    if not rows:
        return rows, None, None
    has_next = more if not backwards else True
    has_previous = from_cursor if not backwards else more
    return rows, ">" + cursor(rows[-1]) if has_next else None, "<" + cursor(rows[0]) if has_previous else None
