"""One reminder after N working days of waiting for the customer; weekends do not count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.conversation import chat
from core.conversation.reminders import add_working_days, send_due_reminders
from core.platform.clock import LOCAL_ZONE, FixedClock
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from tests.support import World


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)),
    st.integers(1, 10),
)
def test_working_days_skip_weekends(start: datetime, days: int) -> None:
    end = add_working_days(start, days)
    local_start = start.astimezone(LOCAL_ZONE).date()
    counted = sum(
        1 for n in range(1, (end.date() - local_start).days + 1) if (local_start + timedelta(days=n)).weekday() < 5
    )
    assert counted == days and end.weekday() < 5


def test_one_reminder_after_three_working_days(portal: Portal, world: World) -> None:
    from sqlmodel import select

    clock: FixedClock = portal.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))  # a Friday
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    chat.post(portal, world.staff, filed.id or 0, "Vilken dörr?", ask_customer=True)
    clock.set(datetime(2026, 12, 2, 8, 59, tzinfo=UTC))  # Wednesday: only two working days have passed
    assert send_due_reminders(portal) == 0
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))  # Wednesday 10:00 in Stockholm: three working days
    assert send_due_reminders(portal) == 1
    assert send_due_reminders(portal) == 0  # one reminder per question
    with portal.database.reading() as s:
        reminders = [m for m in s.exec(select(OutboxMessage)) if m.payload.get("kind") == "reminder"]
    assert [m.payload["user_id"] for m in reminders] == [world.member.id]
    from pathlib import Path

    from core.platform import outbox

    outbox.drain(portal)
    from email import message_from_bytes, policy

    subjects = [
        str(message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"])
        for p in (Path(portal.settings.data_dir) / "mail").glob("*.eml")
    ]
    assert f"Påminnelse: [BB-{filed.id}] Väntar på kund – Felanmälan" in subjects


def test_a_reminded_question_is_not_read_again_and_a_new_question_is(portal: Portal, world: World) -> None:
    """Once its reminder is sent, a question still waiting is left out of the rounds' read (at a million requests
    thousands wait), while the next question asked on the same request gets its own reminder."""
    import pytest

    from core.conversation import reminders
    from core.platform import outbox

    clock: FixedClock = portal.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    chat.post(portal, world.staff, filed.id or 0, "Vilken dörr?", ask_customer=True)
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    assert send_due_reminders(portal) == 1
    outbox.drain(portal)  # sent: now in sent_mail

    looked_up: list[int] = []
    original = reminders.followers

    def counting(session: object, request: object) -> object:
        looked_up.append(1)
        return original(session, request)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reminders, "followers", counting)
        clock.set(datetime(2026, 12, 9, 9, 0, tzinfo=UTC))
        assert send_due_reminders(portal) == 0
    assert looked_up == []  # not even a candidate

    chat.post(portal, world.member, filed.id or 0, "Entrédörren.")
    chat.post(portal, world.staff, filed.id or 0, "Vilken våning?", ask_customer=True)
    clock.set(datetime(2026, 12, 14, 9, 0, tzinfo=UTC))  # the Monday after: three working days later
    assert send_due_reminders(portal) == 1
