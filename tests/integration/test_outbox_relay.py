"""The relay hands out what is due: rows never handed out and rows whose message was lost in flight,
in id order, each once — and reads none of the rows in flight (``ix_outbox_relay``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from core.platform import outbox
from core.platform.db import insert_rows
from core.platform.outbox import OutboxMessage, OutboxStatus
from core.portal import Portal
from tests.outbox_rows import outbox_row


def _add(portal: Portal, topic: str, **changes: object) -> int:
    now = portal.clock.now()
    with portal.database.writing() as session:
        return int(insert_rows(session, OutboxMessage, [{**outbox_row(topic, {}, now), **changes}], returning_id=True))


def test_the_relay_hands_out_waiting_and_lost_rows_once_in_id_order(portal: Portal) -> None:
    now = portal.clock.now()
    lost = _add(portal, "send_mail", relayed_at=now - outbox.REDELIVER_AFTER - timedelta(seconds=1))
    waiting = _add(portal, "send_mail")
    _add(portal, "send_mail", relayed_at=now - timedelta(minutes=1))  # in flight
    _add(portal, "send_mail", available_at=now + timedelta(seconds=20))  # waiting out a backoff
    _add(portal, "send_mail", status=OutboxStatus.DONE.value)
    _add(portal, "nobody.handles.this")
    later_waiting = _add(portal, "request_filed")

    assert outbox.due_for_relay(portal) == [lost, waiting, later_waiting]
    assert outbox.due_for_relay(portal) == []  # handed out: in flight now
    with portal.database.reading() as session:
        relayed = {m.id: m.relayed_at for m in session.exec(select(OutboxMessage))}
    assert all(relayed[i] == now for i in (lost, waiting, later_waiting))


def test_the_relay_hands_out_at_most_its_limit_oldest_first(portal: Portal) -> None:
    now = portal.clock.now()
    ids = [_add(portal, "send_mail") for _ in range(3)]
    ids.insert(1, _add(portal, "send_mail", relayed_at=now - timedelta(hours=1)))
    ids.sort()
    assert outbox.due_for_relay(portal, limit=2) == ids[:2]
    assert outbox.due_for_relay(portal, limit=2) == ids[2:]
    assert outbox.due_for_relay(portal, limit=2) == []


def test_a_relay_round_reads_only_the_rows_it_hands_out(portal: Portal) -> None:
    """On SQLite: the waiting rows are found by walking the relay's index, without a sort over all pending."""
    if not portal.database.is_sqlite:
        pytest.skip("the query plan checked here is SQLite's")
    waiting, _lost = outbox._due_queries(portal, portal.clock.now(), 100)
    with portal.database.reading() as session:
        connection = session.connection()
        compiled = waiting.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
        parameters = tuple(1 for _ in range(str(compiled).count("?")))  # the values do not change the plan
        plan = " / ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", parameters))
    assert "USING INDEX ix_outbox_relay (status=? AND relayed_at=? AND available_at<?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
