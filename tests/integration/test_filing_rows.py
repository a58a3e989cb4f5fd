"""Filing writes its rows as plain INSERTs (``core.platform.db.insert_rows``), where the models' Python defaults do
not apply: every column must be named, so that a column added later cannot silently be left empty."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import SQLModel

from core.platform import db
from core.portal import Portal
from core.workflow import actions as workflow


def test_filing_names_every_column_of_every_row_it_writes(
    portal: Portal, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: dict[str, list[set[str]]] = {}
    real = db.insert_rows

    def recording(session: Any, model: Any, rows: Any, **kwargs: Any) -> Any:
        written.setdefault(model.__tablename__, []).extend(set(row) for row in rows)
        return real(session, model, rows, **kwargs)

    for module in (
        "core.requests.lifecycle",
        "core.platform.outbox",
        "core.requests.followers",
        "core.billing.recording",
    ):
        monkeypatch.setattr(f"{module}.insert_rows", recording)
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    assert filed.id is not None
    order = {"kind": "other", "description": "Byt namnskylt i entrén"}  # one planned charge line
    workflow.file(portal, world.member, "order", {"system_id": world.system.id, "order": order}, None)
    tables = {"request", "request_history", "request_follower", "outbox", "request_billing", "planned_charge"}
    assert set(written) >= tables
    for table_name, rows in written.items():
        columns = {c.name for c in SQLModel.metadata.tables[table_name].columns} - {"id"}
        for names in rows:
            assert names == columns, (table_name, columns ^ names)
