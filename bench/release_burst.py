"""Benchmark: N requests scheduled for the same date all join the queue within 10 s of their due time.

Files N requests (default 10,000) scheduled for one date through the real filing code, then runs the
worker-side release at the due moment on a clock set to it, as the tick would, and reports how long the
release took (median of --runs). The tick itself adds at most ``BBPORTAL_TICK_SECONDS`` (default 5 s).

    .venv/bin/python bench/release_burst.py --n 10000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert
from sqlmodel import select

from core import demo
from core.clock import FixedClock
from core.db import create_database
from core.migrate import upgrade
from core.models import Organisation, Request, RequestHistory, System, User
from core.portal import build_portal
from core.scheduling import due_moment, parse_release_time, release_due
from core.settings import Settings

DAY = date(2026, 12, 24)


def one_run(n: int, database_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            secret_key="x" * 48,
            database_url=database_url or "",
            embedded_worker=False,
            _env_file=None,
        )  # type: ignore[call-arg]
        clock = FixedClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
        database = create_database(settings.resolved_database_url)
        upgrade(database)
        portal = build_portal(settings, database=database, clock=clock)
        with database.writing() as session:
            demo.load(session, clock)
        with database.writing() as session:
            organisation = session.exec(select(Organisation)).first()
            system = session.exec(select(System).where(System.organisation_id == organisation.id)).first()  # type: ignore[union-attr]
            user = session.exec(select(User).where(User.organisation_id == organisation.id)).first()  # type: ignore[union-attr]
            now = clock.now()
            rows = [
                {
                    "type_key": "fault_report",
                    "schema_version": 1,
                    "data": {"location": f"Dörr {i}"},
                    "summary": f"Dörr {i}",
                    "status": "scheduled",
                    "carry_out_on": DAY,
                    "priority": 0,
                    "organisation_id": organisation.id,  # type: ignore[union-attr]
                    "requester_id": user.id,
                    "system_id": system.id,
                    "fulfilment_running": False,  # type: ignore[union-attr]
                    "needs_attention": False,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n)
            ]
            session.execute(insert(Request), rows)
            ids = [r for r in session.exec(select(Request.id))]
            session.execute(
                insert(RequestHistory),
                [
                    {
                        "request_id": i,
                        "at": now,
                        "action": "file",
                        "from_status": None,
                        "to_status": "scheduled",
                        "reason": "",
                        "details": {},
                    }
                    for i in ids
                ],
            )
        due = due_moment(DAY, parse_release_time(settings.release_time))
        clock.set(due)
        started = time.perf_counter()
        released = release_due(portal)
        elapsed = time.perf_counter() - started
        database.dispose()
        assert len(released) == n, (len(released), n)
        return {"released": len(released), "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    runs = [one_run(args.n, args.database_url or None) for _ in range(args.runs)]
    seconds = [r["seconds"] for r in runs]
    print(
        json.dumps(
            {
                "n": args.n,
                "runs": seconds,
                "median_seconds": statistics.median(seconds),
                "target_seconds": 10,
                "met": statistics.median(seconds) + 5 <= 10,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
