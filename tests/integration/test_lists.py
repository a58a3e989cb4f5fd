"""The request lists read plain rows through prebuilt statements: checked here against a plain ORM query.

Random requests (statuses, priorities, queue times with ties, assignees, types, two organisations) are
written straight into the table; walking every page by its cursor must give exactly the reference order,
each request once, with the names the list shows.
"""

from __future__ import annotations

import random
from dataclasses import fields
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from core.models import Request
from core.portal import Portal
from core.requests.queries import Page, RequestSummary, list_requests, needing_attention, organisation_choices, queue
from core.requests.statuses import Status

TYPES = ("fault_report", "suggestion")


def test_a_summary_has_every_column_of_a_request() -> None:
    """A new column on ``request`` must be added to the lists' plain rows too (or this test tells)."""
    columns = [column.name for column in Request.__table__.columns]  # type: ignore[attr-defined]
    assert sorted(f.name for f in fields(RequestSummary)) == sorted(columns)


def _fill(portal: Portal, world: Any, seed: int, count: int = 90) -> None:
    rng = random.Random(seed)
    now = portal.clock.now()
    stamps = [now - timedelta(minutes=rng.randrange(0, 40)) for _ in range(12)]  # few stamps: many ties
    with portal.database.writing() as session:
        for _ in range(count):
            own = rng.random() < 0.7
            status = rng.choice([Status.PENDING, Status.PENDING, Status.IN_PROGRESS, Status.COMPLETED])
            session.add(
                Request(
                    type_key=rng.choice(TYPES),
                    schema_version=1,
                    data={"n": rng.randrange(1000)},
                    summary=f"S{rng.randrange(1000)}",
                    status=status,
                    queued_at=rng.choice(stamps) if status != Status.COMPLETED else None,
                    priority=rng.choice([0, 0, 1]),
                    assignee_id=world.staff.id if status == Status.IN_PROGRESS else None,
                    organisation_id=(world.org if own else world.other_org).id,
                    requester_id=(world.member if own else world.outsider).id,
                    needs_attention=status == Status.IN_PROGRESS and rng.random() < 0.3,
                    created_at=now,
                    updated_at=now,
                )
            )


def _walk(read: Any) -> list[Any]:
    rows, cursor, pages = [], None, 0
    while True:
        page: Page = read(cursor)
        rows.extend(page.rows)
        pages += 1
        assert pages < 200, "the cursor does not advance"
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_queue_pages_follow_priority_then_queue_time_then_id(portal: Portal, world: Any, seed: int) -> None:
    _fill(portal, world, seed)
    with portal.database.reading() as session:
        for type_key in (None, "suggestion"):
            walked = _walk(lambda cursor: queue(session, type_key=type_key, cursor=cursor, limit=7))  # noqa: B023
            query = select(Request).where(Request.status == Status.PENDING, col(Request.queued_at).is_not(None))
            if type_key:
                query = query.where(Request.type_key == type_key)
            expected = sorted(session.exec(query), key=lambda r: (-r.priority, r.queued_at, r.id))
            assert [row.request.id for row in walked] == [r.id for r in expected]
            assert all(row.request.data is None for row in walked)  # pages do not read the form data


@pytest.mark.parametrize("seed", [4, 5])
def test_list_pages_are_newest_first_scoped_and_complete(portal: Portal, world: Any, seed: int) -> None:
    _fill(portal, world, seed)
    with portal.database.reading() as session:
        walked = _walk(lambda cursor: list_requests(session, world.member, cursor=cursor, limit=6, with_data=True))
        expected = session.exec(
            select(Request).where(Request.organisation_id == world.org.id).order_by(col(Request.id).desc())
        ).all()
        assert [row.request.id for row in walked] == [r.id for r in expected]
        by_id = {r.id: r for r in expected}
        for row in walked:
            original = by_id[row.request.id]
            assert row.request.data == original.data and row.request.queued_at == original.queued_at
            assert row.requester_name == world.member.name and row.organisation_name == world.org.name
            assert row.assignee_name == (world.staff.name if original.assignee_id else "")

        # A staff member filtering by organisation and status sees the same as the reference.
        walked = _walk(
            lambda cursor: list_requests(
                session, world.staff, statuses=[Status.PENDING], organisation_id=world.other_org.id, cursor=cursor
            )
        )
        expected = session.exec(
            select(Request)
            .where(Request.organisation_id == world.other_org.id, Request.status == Status.PENDING)
            .order_by(col(Request.id).desc())
        ).all()
        assert [row.request.id for row in walked] == [r.id for r in expected]

        # A staff member's organisation filter never widens a customer's view.
        mine = list_requests(session, world.member, organisation_id=world.other_org.id, limit=500)
        assert {row.request.organisation_id for row in mine.rows} == {world.org.id}


def test_needing_attention_lists_flagged_open_unheld_requests(portal: Portal, world: Any) -> None:
    _fill(portal, world, 6)
    with portal.database.writing() as session:
        flagged = session.exec(select(Request).where(col(Request.needs_attention).is_(True))).all()
        assert flagged
        for request in flagged[::2]:
            request.assignee_id = None
            session.add(request)
    with portal.database.reading() as session:
        found = [row.request.id for row in needing_attention(session)]
        expected = session.exec(
            select(Request).where(col(Request.needs_attention).is_(True), col(Request.assignee_id).is_(None))
        ).all()
        ordered = sorted(expected, key=lambda r: (-r.priority, r.queued_at, r.id))
        assert found == [r.id for r in ordered]
        assert [o.name for o in organisation_choices(session)] == sorted([world.org.name, world.other_org.name])
