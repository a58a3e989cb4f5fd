"""``core.platform.db.insert_rows`` stores exactly what SQLAlchemy's own INSERT stores.

On SQLite it hands the statement straight to the driver and converts each value with the column type's
bind processor; these tests write the same values both ways and compare what the database holds, column by
column (dates and times as text, JSON — including a JSON ``null`` —, booleans, non-ASCII text).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session

from core.billing.models import PlannedCharge
from core.models import RequestHistory
from core.platform.db import Database, insert_rows
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.workflow import actions as workflow
from tests.outbox_rows import outbox_row


def _stored(session: Session, table: str, row_id: int) -> dict[str, Any]:
    found = session.connection().execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id})
    values = dict(found.mappings().one())
    values.pop("id")
    return values


def _both_ways(database: Database, model: Any, row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row written by ``insert_rows`` and by SQLAlchemy's INSERT, as the database holds them."""
    with database.writing() as session:
        ours = insert_rows(session, model, [row], returning_id=True)
        reference = session.connection().execute(model.__table__.insert(), row).inserted_primary_key[0]
        return _stored(session, model.__tablename__, ours), _stored(session, model.__tablename__, reference)


def test_an_outbox_row_is_stored_as_sqlalchemy_stores_it(database: Database) -> None:
    moment = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
    row = outbox_row("request_filed", {"request_id": 7, "note": "Låset i entrén"}, moment)
    ours, reference = _both_ways(database, OutboxMessage, row)
    assert ours == reference
    assert ours["payload"] is not None and ours["relayed_at"] is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    details=st.one_of(
        st.none(),
        st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=12), st.booleans(), st.none())),
    ),
    reason=st.text(max_size=40).filter(lambda s: "\x00" not in s),
    offset_minutes=st.integers(min_value=-720, max_value=720),
    from_status=st.one_of(st.none(), st.sampled_from(["scheduled", "in_progress"])),
)
def test_history_rows_match_for_any_values(
    portal: Portal, world: Any, details: Any, reason: str, offset_minutes: int, from_status: str | None
) -> None:
    request = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    moment = datetime(2026, 11, 30, 12, 0, tzinfo=timezone(timedelta(minutes=offset_minutes)))
    row = {
        "request_id": request.id,
        "at": moment,
        "actor_id": world.member.id,
        "action": "file",
        "from_status": from_status,
        "to_status": "pending",
        "reason": reason,
        "details": details,
    }
    ours, reference = _both_ways(portal.database, RequestHistory, row)
    assert ours == reference


def test_a_planned_charge_with_dates_and_empty_columns_matches(portal: Portal, world: Any) -> None:
    request = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    row = {
        "request_id": request.id,
        "organisation_id": world.org.id,
        "quota_month": date(2026, 11, 1),
        "position": 1,
        "code": "TAG",
        "note": "Blå bricka",
        "quantity": 3,
        "included_by": "nothing",
        "quota_limit": None,
        "quota_remaining": None,
        "price_list_id": None,
        "price_item_id": None,
        "name_sv": "Tagg",
        "name_en": "Tag",
        "unit": "st",
        "unit_price_ore": 12_500,
        "discount_bp": 0,
        "vat_percent": 25,
        "amount_ore": 37_500,
        "vat_ore": 9_375,
    }
    ours, reference = _both_ways(portal.database, PlannedCharge, row)
    assert ours == reference


def test_several_rows_in_one_call_are_stored_as_sqlalchemy_stores_them(database: Database) -> None:
    moment = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    rows = [outbox_row("send_mail", {"n": n, "text": "Östra porten"}, moment) for n in range(3)]
    with database.writing() as session:
        insert_rows(session, OutboxMessage, rows)
        session.connection().execute(OutboxMessage.__table__.insert(), rows)  # type: ignore[attr-defined]
        stored = [
            {k: v for k, v in row.items() if k != "id"}
            for row in session.connection().execute(text("SELECT * FROM outbox ORDER BY id")).mappings()
        ]
    assert stored[:3] == stored[3:] and len(stored) == 6


def test_a_column_left_out_is_refused_on_every_database(database: Database) -> None:
    row = {k: v for k, v in outbox_row("a", {}, datetime(2026, 1, 1, tzinfo=UTC)).items() if k != "attempts"}
    with pytest.raises(ValueError, match="missing: \\['attempts'\\]"), database.writing() as session:
        insert_rows(session, OutboxMessage, [row])


def test_rows_of_one_call_must_name_the_same_columns(database: Database) -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    first = outbox_row("a", {}, moment)
    second = {k: v for k, v in outbox_row("b", {}, moment).items() if k != "done_at"}
    with pytest.raises(ValueError, match="same columns"), database.writing() as session:
        insert_rows(session, OutboxMessage, [first, second])
