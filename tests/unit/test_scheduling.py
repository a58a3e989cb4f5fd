"""Scheduled requests join the queue on their date at the release time (Europe/Stockholm), never early."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from core.models import Request, RequestHistory
from core.platform.clock import LOCAL_ZONE, FixedClock
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.requests.lifecycle import Action
from core.requests.scheduling import due_moment, latest_due_date, release_due
from core.requests.statuses import Status
from core.workflow import actions as workflow
from tests.support import World

SEVEN = time(7, 0)
# Around the 2026 and 2027 DST changes in Sweden (29 March / 25 October 2026, 28 March / 31 October 2027).
dates = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 2), timezones=st.just(UTC))
release_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@given(dates, release_times)
def test_due_moment_is_on_the_local_day_at_the_local_time(day: date, at: time) -> None:
    local = due_moment(day, at).astimezone(LOCAL_ZONE)
    assert local.date() == day
    if not (day.month in (3, 10) and at.hour == 2):  # 02:xx does not exist on the spring-forward night
        assert (local.hour, local.minute) == (at.hour, at.minute)


@given(moments, dates, release_times)
def test_a_date_is_due_exactly_from_its_moment_on(now: datetime, day: date, at: time) -> None:
    is_due = day <= latest_due_date(now, at)
    assert is_due == (now >= due_moment(day, at))


def file_for(portal: Portal, world: World, day: date) -> Request:
    return workflow.file(portal, world.member, "order", world.later_change(str(day)), day.isoformat())


def status_of(portal: Portal, request_id: int) -> Request:
    with portal.database.reading() as s:
        found = s.get(Request, request_id)
        assert found is not None
        return found


def test_release_on_the_day_at_seven_with_that_moment_as_place_in_line(portal: Portal, world: World) -> None:
    clock: FixedClock = portal.clock  # type: ignore[assignment]
    day = date(2026, 12, 3)
    filed = file_for(portal, world, day)
    assert filed.status == Status.SCHEDULED
    clock.set(datetime(2026, 12, 3, 6, 59, 59, tzinfo=UTC) - timedelta(hours=1))  # 06:59:59 in Stockholm
    assert release_due(portal) == []
    clock.set(datetime(2026, 12, 3, 6, 0, 30, tzinfo=UTC))  # 07:00:30 in Stockholm (CET = UTC+1)
    assert release_due(portal) == [filed.id]
    released = status_of(portal, filed.id or 0)
    assert released.status == Status.PENDING
    assert released.queued_at == datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    assert release_due(portal) == []  # released once
    with portal.database.reading() as s:
        history = s.exec(
            select(RequestHistory).where(RequestHistory.request_id == filed.id).order_by(col(RequestHistory.id))
        ).all()
        topics = [m.topic for m in s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))]
    assert [(h.action, h.actor_id, h.to_status) for h in history] == [
        ("file", world.member.id, "scheduled"),
        ("release", None, "pending"),
    ]
    assert topics == ["request_filed", "status_changed"]


def test_after_downtime_everything_overdue_is_released_in_date_order(portal: Portal, world: World) -> None:
    clock: FixedClock = portal.clock  # type: ignore[assignment]
    later = file_for(portal, world, date(2026, 12, 10))
    earlier = file_for(portal, world, date(2026, 12, 5))
    not_yet = file_for(portal, world, date(2026, 12, 20))
    clock.set(datetime(2026, 12, 15, 12, 0, tzinfo=UTC))
    assert release_due(portal, limit=1) == [earlier.id, later.id]
    assert status_of(portal, not_yet.id or 0).status == Status.SCHEDULED
    assert status_of(portal, earlier.id or 0).queued_at < status_of(portal, later.id or 0).queued_at  # type: ignore[operator]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # each example cleans up after itself
@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=6), st.integers(0, 500 * 24))
def test_never_released_early_and_always_on_the_right_local_day(
    portal: Portal, world: World, offsets: list[int], hours: int
) -> None:
    clock: FixedClock = portal.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    filed = [file_for(portal, world, date(2026, 11, 27) + timedelta(days=o)) for o in offsets]
    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC) + timedelta(hours=hours))
    release_due(portal)
    for request in filed:
        stored = status_of(portal, request.id or 0)
        due = due_moment(request.carry_out_on, SEVEN)  # type: ignore[arg-type]
        if clock.now() >= due:
            assert stored.status == Status.PENDING
            assert stored.queued_at is not None
            assert stored.queued_at.astimezone(LOCAL_ZONE).date() == request.carry_out_on
        else:
            assert stored.status == Status.SCHEDULED
    for request in filed:  # withdraw, so the next example starts with nothing scheduled
        workflow.perform(portal, world.member, request.id or 0, Action.WITHDRAW)
