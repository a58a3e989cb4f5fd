"""Outbox rows as plain column values, for tests that seed the table through ``insert_rows`` directly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.platform.outbox import OutboxStatus


def outbox_row(topic: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A new pending outbox row (the product adds rows only through ``core.platform.outbox.enqueue``)."""
    return {
        "topic": topic,
        "payload": payload,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "last_error": "",
        "created_at": now,
        "available_at": now,
        "relayed_at": None,
        "dedupe_key": None,
        "done_at": None,
        "request_id": None,
    }
