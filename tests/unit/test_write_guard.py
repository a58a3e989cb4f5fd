"""The write guard notices a second writer: product code (by its file) that writes a guarded table itself."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.portal import Portal
from tests import write_guard

ROOT = Path(__file__).resolve().parent.parent.parent


def _product_function(source: str, name: str, where: str = "core/sneaky.py") -> Any:
    """A function whose code says it lives in the product (the guard goes by the file of each frame)."""
    namespace: dict[str, Any] = {"text": text}
    exec(compile(source, str(ROOT / where), "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE request SET status = 'completed' WHERE id = 1",
        "INSERT INTO request_history (request_id, at, action, to_status, reason, details) "
        "VALUES (1, '2026-01-01', 'take', 'pending', '', '{}')",
        "INSERT INTO chat_message (request_id, body, internal, via, created_at) "
        "VALUES (1, 'x', 0, 'portal', '2026-01-01')",
        "INSERT INTO outbox (topic, payload, status, attempts, last_error, created_at, available_at) "
        "VALUES ('x', '{}', 'pending', 0, '', '2026-01-01', '2026-01-01')",
    ],
)
def test_a_second_writer_in_the_product_is_caught(portal: Portal, world: Any, statement: str) -> None:
    sneaky = _product_function("def sneaky(session, statement):\n    session.execute(text(statement))\n", "sneaky")
    with portal.database.reading() as session:
        # The guard looks before the database does: a row that does not fit the schema is seen all the same.
        with contextlib.suppress(Exception):
            sneaky(session, statement)
        session.rollback()
    assert write_guard.violations, statement
    assert "core/sneaky.py" in write_guard.violations[-1]
    write_guard.violations.clear()  # this test's own finding is expected


def test_the_allowed_writers_and_other_columns_pass(portal: Portal, world: Any) -> None:
    sneaky = _product_function(
        "def sneaky(session):\n    session.execute(text(\"UPDATE request SET summary = 'x' WHERE id = 1\"))\n", "sneaky"
    )
    with portal.database.reading() as session:
        sneaky(session)  # a request's other columns are not the lifecycle's alone
        session.rollback()
    assert write_guard.violations == []


def test_a_mail_job_queued_around_the_mail_service_is_caught(portal: Portal, world: Any) -> None:
    sneaky = _product_function(
        "from core.platform.outbox import enqueue\n"
        "def sneaky(session, now):\n"
        "    enqueue(session, 'send_mail', {'kind': 'invitation', 'user_id': 1}, 'sneaky:1', now=now)\n",
        "sneaky",
    )
    with portal.database.writing() as session:
        sneaky(session, portal.clock.now())
        session.rollback()
    assert write_guard.violations and "send_mail" in write_guard.violations[-1]
    assert "core/sneaky.py" in write_guard.violations[-1]
    write_guard.violations.clear()  # this test's own finding is expected
