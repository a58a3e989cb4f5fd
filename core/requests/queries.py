"""Reading requests: the one place customer queries are scoped to the viewer's organisation, and the queue.

Lists use keyset pagination (a cursor of the last row's sort key), so a page costs the same on row
100,000 as on row 1, and they join the names they show instead of loading them row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, and_, bindparam, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from core.models import Organisation, Request, RequestHistory, User, title_in
from core.platform.clock import as_utc
from core.platform.errors import NotFound
from core.platform.i18n import current_language
from core.requests.request_types import RequestType
from core.requests.statuses import OPEN, Status
from core.views import RequestView


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """One request as lists show it: the columns of ``request`` as plain values, read without the ORM.

    Lists are the portal's busiest pages; building ORM instances (identity map, attribute instrumentation)
    for every row cost more than the query. ``data`` is only read when a list asks for it (the API).
    """

    id: int
    type_key: str
    schema_version: int
    summary: str
    summary_en: str | None
    status: str
    carry_out_on: date | None
    queued_at: datetime | None
    priority: int
    assignee_id: int | None
    organisation_id: int
    requester_id: int
    system_id: int | None
    fulfilment_running: bool
    needs_attention: bool
    version: int
    created_at: datetime
    updated_at: datetime
    follows_up_id: int | None
    data: dict[str, Any] | None = None

    @property
    def number(self) -> str:
        return f"BB-{self.id}"

    @property
    def title(self) -> str:
        """The title in the reader's language (see :attr:`core.models.Request.title`)."""
        return title_in(current_language(), self.summary, self.summary_en)


@dataclass(frozen=True, slots=True)
class RequestRow:
    request: RequestSummary
    requester_name: str
    organisation_name: str = ""
    assignee_name: str = ""


@dataclass
class Page:
    rows: list[RequestRow]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class OrganisationChoice:
    id: int
    name: str


MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in the schema: anything larger names nothing (a 404, not a database error)."""


def valid_id(value: int | None) -> bool:
    return value is not None and 0 < value <= MAX_ID


def parse_id(value: Any) -> int | None:
    """An id given from outside (a form value, a job's payload) as a number the database can hold, or None."""
    try:
        wanted = int(value)
    except (TypeError, ValueError):
        return None
    return wanted if valid_id(wanted) else None


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


def follow_up_of(session: Session, user: User, reference: str) -> Request | None:
    """The request a new one follows up, named ``BB-12`` or ``12``: one of the user's organisation's, else None
    (a reference from a link that was altered is dropped, never a reason to refuse the new request)."""
    number = reference.strip().upper().removeprefix("BB-")
    if not (number.isascii() and number.isdigit()):
        return None
    try:
        return get_request(session, user, int(number))
    except NotFound:
        return None


_REQUEST: Table = Request.__table__  # type: ignore[attr-defined]
_USER: Table = User.__table__  # type: ignore[attr-defined]
_ORGANISATION: Table = Organisation.__table__  # type: ignore[attr-defined]
_SUMMARY_FIELDS = tuple(f.name for f in fields(RequestSummary))


@lru_cache(maxsize=128)
def _listing(with_data: bool, *conditions: str) -> Select[Any]:
    """A list's statement, built once per shape: the request's columns with the names a list shows,
    joined in the same query (no query per row). Values come as bound parameters at execution, so a
    page reuses the compiled statement instead of building and compiling it again.

    ``conditions`` name the filters the page uses (see ``_CONDITIONS``).
    """
    r, requester, assignee, organisation = _REQUEST.c, _USER.alias("requester"), _USER.alias("assignee"), _ORGANISATION
    columns = [r[name] for name in _SUMMARY_FIELDS if with_data or name != "data"]
    query = (
        sa_select(*columns, requester.c.name, organisation.c.name, assignee.c.name)
        .select_from(_REQUEST)
        .join(requester, r.requester_id == requester.c.id)
        .join(organisation, r.organisation_id == organisation.c.id)
        .outerjoin(assignee, r.assignee_id == assignee.c.id)
    )
    return query.where(*(_CONDITIONS[name]() for name in conditions))


_CONDITIONS: dict[str, Any] = {
    "organisation": lambda: _REQUEST.c.organisation_id == bindparam("organisation_id"),
    "statuses": lambda: _REQUEST.c.status.in_(bindparam("statuses", expanding=True)),
    "type": lambda: _REQUEST.c.type_key == bindparam("type_key"),
    "before": lambda: _REQUEST.c.id < bindparam("before"),
    "priority": lambda: and_(_REQUEST.c.priority == bindparam("priority"), _REQUEST.c.queued_at.is_not(None)),
    "after": lambda: or_(
        _REQUEST.c.queued_at > bindparam("after_at"),
        and_(_REQUEST.c.queued_at == bindparam("after_at"), _REQUEST.c.id > bindparam("after_id")),
    ),
    "ids": lambda: _REQUEST.c.id.in_(bindparam("ids", expanding=True)),
    # the views and filters of core.requests.lists
    "view_statuses": lambda: _REQUEST.c.status.in_(bindparam("view_statuses", expanding=True)),
    "status": lambda: _REQUEST.c.status == bindparam("status"),
    "assignee": lambda: _REQUEST.c.assignee_id == bindparam("assignee_id"),
    "unassigned": lambda: _REQUEST.c.assignee_id.is_(None),
    "requester": lambda: _REQUEST.c.requester_id == bindparam("requester_id"),
    "filed_from": lambda: _REQUEST.c.created_at >= bindparam("filed_from"),
    "filed_to": lambda: _REQUEST.c.created_at < bindparam("filed_to"),
    "queued": lambda: _REQUEST.c.queued_at.is_not(None),
    "attention": lambda: and_(
        _REQUEST.c.needs_attention.is_(True),
        _REQUEST.c.status.in_([s.value for s in OPEN]),
        _REQUEST.c.assignee_id.is_(None),
    ),
}


@lru_cache(maxsize=128)
def _newest_first(with_data: bool, *conditions: str) -> Select[Any]:
    return _listing(with_data, *conditions).order_by(_REQUEST.c.id.desc()).limit(bindparam("limit"))


@lru_cache(maxsize=128)
def _in_queue_order(with_data: bool, *conditions: str) -> Select[Any]:
    ordered = _listing(with_data, *conditions).order_by(_REQUEST.c.queued_at.asc(), _REQUEST.c.id.asc())
    return ordered.limit(bindparam("limit"))


def _rows(session: Session, statement: Select[Any], params: dict[str, Any], with_data: bool) -> list[RequestRow]:
    found = []
    width = len(_SUMMARY_FIELDS) if with_data else len(_SUMMARY_FIELDS) - 1
    for values in session.connection().execute(statement, params):
        summary = RequestSummary(*values[:width])
        requester, organisation, assignee = values[width:]
        found.append(RequestRow(summary, requester or "", organisation or "", assignee or ""))
    return found


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
    conditions: list[str] = []
    params: dict[str, Any] = {"limit": limit + 1}
    if not user.is_staff:
        organisation_id = user.organisation_id if user.organisation_id is not None else -1
    if organisation_id is not None:
        conditions.append("organisation")
        params["organisation_id"] = organisation_id
    if statuses:
        conditions.append("statuses")
        params["statuses"] = [s.value for s in statuses]
    if type_key:
        conditions.append("type")
        params["type_key"] = type_key
    before = _int_cursor(cursor)
    if before is not None:
        conditions.append("before")
        params["before"] = before
    rows = _rows(session, _newest_first(with_data, *conditions), params, with_data)
    page = rows[:limit]
    next_cursor = str(page[-1].request.id) if len(rows) > limit and page else None
    return Page(page, next_cursor)


def rows_by_id(session: Session, user: User, ids: list[int]) -> dict[int, RequestRow]:
    """The list rows of these requests that ``user`` may see, by id (search results, in the search's order)."""
    if not ids:
        return {}
    conditions, params = ["ids"], {"ids": ids, "limit": len(ids)}
    if not user.is_staff:
        conditions.append("organisation")
        params["organisation_id"] = user.organisation_id if user.organisation_id is not None else -1
    return {row.request.id: row for row in _rows(session, _newest_first(False, *conditions), params, False)}


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
    conditions = ["statuses", "priority"]
    params: dict[str, Any] = {"statuses": [s.value for s in wanted]}
    if type_key:
        conditions.append("type")
        params["type_key"] = type_key
    if organisation_id is not None:
        conditions.append("organisation")
        params["organisation_id"] = organisation_id
    rows: list[RequestRow] = []
    for priority in PRIORITIES:
        if after is not None and priority > after[0]:
            continue  # the cursor is already past this level
        shape = list(conditions)
        level = {**params, "priority": priority, "limit": limit + 1 - len(rows)}
        if after is not None and priority == after[0]:
            _priority, level["after_at"], level["after_id"] = after
            shape.append("after")
        rows.extend(_rows(session, _in_queue_order(with_data, *shape), level, with_data))
        if len(rows) > limit:
            break
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit and page:
        last = page[-1].request
        stamp = as_utc(last.queued_at).isoformat() if last.queued_at else ""
        next_cursor = f"{last.priority}|{stamp}|{last.id}"
    return Page(page, next_cursor)


@lru_cache(maxsize=1)
def _attention_statement() -> Select[Any]:
    return (
        _listing(False, "attention")
        .order_by(_REQUEST.c.priority.desc(), _REQUEST.c.queued_at.asc(), _REQUEST.c.id.asc())
        .limit(bindparam("limit"))
    )


def needing_attention(session: Session, *, limit: int = 50) -> list[RequestRow]:
    """Open requests an automatic step failed on and nobody holds: they wait for staff outside the pending
    queue (``in_progress``, flagged), so the queue page lists them above it. Urgent and oldest first."""
    return _rows(session, _attention_statement(), {"limit": limit}, False)


def organisation_choices(session: Session) -> list[OrganisationChoice]:
    """Every organisation's id and name, by name: the organisation filter of the staff lists."""
    rows = session.connection().execute(
        sa_select(_ORGANISATION.c.id, _ORGANISATION.c.name).order_by(_ORGANISATION.c.name)
    )
    return [OrganisationChoice(*row) for row in rows]


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


def open_requests(session: Session, type_key: str, organisation_id: int) -> list[RequestView]:
    """The organisation's requests of one type that are not closed yet, oldest first.

    For rules like "no second open request for the same user"; such a type sets ``validate_while_writing``
    so that two filings at the same moment cannot both pass.
    """
    found = session.exec(
        select(Request)
        .where(
            Request.type_key == type_key,
            Request.organisation_id == organisation_id,
            col(Request.status).in_([status.value for status in OPEN]),
        )
        .order_by(col(Request.id))
    )
    return [RequestView.of(row) for row in found]


def owed_requests(session: Session, request_type: RequestType, organisation_id: int, key: str) -> list[RequestView]:
    """The organisation's requests of ``request_type`` about ``key`` (its ``ordering_key``) still to be carried
    out — filed and waiting, or being carried out (retried included) —, oldest first.

    The fulfilment keeps their order with it, and a form can use it to judge a request against the state the
    thing will be in once those are done (a reactivation filed while the block is still being retried).
    """
    found = session.exec(
        select(Request)
        .where(
            Request.type_key == request_type.key,
            Request.organisation_id == organisation_id,
            or_(col(Request.status) == Status.PENDING.value, col(Request.fulfilment_running).is_(True)),
        )
        .order_by(col(Request.id))
    )
    return [RequestView.of(row) for row in found if _ordering_key(request_type, row) == key]


def _ordering_key(request_type: RequestType, row: Request) -> str | None:
    try:
        return request_type.ordering_key(request_type.schema.model_validate(row.data))
    except ValueError:  # filed under an older schema that no longer validates: not about the same thing
        return None


def lock_request(session: Session, request_id: int) -> RequestView | None:
    """Hold one request's row until the transaction ends, so two runs of a fulfilment cannot both act."""
    row = session.exec(select(Request).where(Request.id == request_id).with_for_update()).first()
    return RequestView.of(row) if row is not None else None


def find_request(session: Session, request_id: Any) -> RequestView | None:
    """A request by id (any organisation's), or None; check ``organisation_id`` before showing it to anyone."""
    wanted = parse_id(request_id)
    row = session.get(Request, wanted) if wanted is not None else None
    return RequestView.of(row) if row is not None else None
