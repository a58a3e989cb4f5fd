"""Heartbeats: a row per background loop, touched while it works, so that a web process can tell it is alive.

The web processes and the background side (the embedded background process, or the production relay) share
nothing but the database; a loop that has died, hangs or lost its database stops touching its row, and
``/readyz`` names it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col

from core.platform.columns import utc_column
from core.platform.db import Database

RELAY = "relay"
"""The relay's heartbeat (the embedded background work's, or ``bbportal relay``'s in production)."""
INTERVAL = timedelta(seconds=5)
"""A loop beats at most this often (on SQLite every beat is a writer's turn)."""
MAX_AGE = timedelta(seconds=60)
"""A heartbeat older than this is a loop that is gone (a dozen missed beats: a busy machine is not dead)."""


class Heartbeat(SQLModel, table=True):
    """When a background loop last finished a round (any of its instances: several relays may run)."""

    __tablename__ = "heartbeat"

    name: str = Field(primary_key=True, max_length=64)
    beat_at: datetime = utc_column()


def beat(database: Database, name: str, now: datetime) -> None:
    """Touch ``name``'s row (made on the first beat). Two loops beating at once both succeed."""
    with database.writing() as session:
        touched = session.execute(update(Heartbeat).where(col(Heartbeat.name) == name).values(beat_at=now))
        if touched.rowcount:  # type: ignore[attr-defined]
            return
        try:
            with session.begin_nested():
                session.add(Heartbeat(name=name, beat_at=now))
        except IntegrityError:  # another instance made the row a moment ago: its beat is as good as ours
            pass


def last_beat(session: Session, name: str) -> datetime | None:
    found = session.get(Heartbeat, name)
    return found.beat_at if found is not None else None
