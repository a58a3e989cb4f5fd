"""Benchmark: N requests scheduled for the same date all join the queue within 10 s of their due time.

Files N requests (default 10,000) scheduled for one date through the real filing code, then runs the
worker-side release at the due moment on a clock set to it, as the tick would, and reports how long the
release took (median of --runs). The tick itself adds at most ``BBPORTAL_TICK_SECONDS`` (default 5 s).

    .venv/bin/python bench/release_burst.py --n 10000 --runs 3
    .venv/bin/python bench/release_burst.py --n 10000 --runs 3 --observer   # also with one observer plugin

With ``--observer`` every run releases twice, each on its own fresh database: once as before and once with one
extra plugin registered on the portal's plugin manager that records every status change it is told about (the
cost a plugin observing releases adds). Against a core that offers the batched hook
``bbportal_statuses_changed(changes, context)`` the observer implements that one; otherwise the per-request
``bbportal_status_changed(request, from_status, to_status, action, context)``. Which one ran is in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert
from sqlmodel import select

import core
from core import demo
from core.hookspecs import hookimpl
from core.migrate import upgrade
from core.models import Organisation, Request, RequestHistory, System, User
from core.platform.clock import FixedClock
from core.platform.db import create_database
from core.platform.settings import Settings
from core.portal import build_portal
from core.requests.scheduling import due_moment, parse_release_time, release_due

DAY = date(2026, 12, 24)


def _value(item: Any) -> str:
    return str(getattr(item, "value", item))  # an enum member or its value


def _request_id(change: Any) -> int:
    """A change carries its request (``.request``) or only the request's id (``.request_id``)."""
    request = getattr(change, "request", None)
    return int(request.id if request is not None else change.request_id)


class PerRequestObserver:
    """Records what ``bbportal_status_changed`` is told, one call per request (the hook before the batched one)."""

    style = "per-request"

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, str, str]] = []

    @hookimpl
    def bbportal_status_changed(
        self, request: Any, from_status: Any, to_status: Any, action: str, context: Any
    ) -> None:
        self.seen.append((request.id, _value(from_status), _value(to_status), _value(action)))


class BatchedObserver:
    """Records what the batched ``bbportal_statuses_changed`` is told (one call per batch of changes: objects with
    ``.request`` or ``.request_id``, ``.from_status``, ``.to_status``, ``.action``)."""

    style = "batched"

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, str, str]] = []

    @hookimpl
    def bbportal_statuses_changed(self, changes: Any, context: Any) -> None:
        self.seen.extend(
            (_request_id(c), _value(c.from_status), _value(c.to_status), _value(c.action)) for c in changes
        )


def add_observer(portal: Any) -> PerRequestObserver | BatchedObserver:
    """Register a recording observer on the portal's plugin manager: batched when the core offers it."""
    observer = BatchedObserver() if hasattr(portal.hooks, "bbportal_statuses_changed") else PerRequestObserver()
    manager = getattr(portal, "plugin_manager", None) or portal.plugins
    manager.register(observer, name="bench-release-observer")
    return observer


def one_run(n: int, database_url: str | None, observe: bool = False) -> dict[str, Any]:
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
        observer = add_observer(portal) if observe else None
        due = due_moment(DAY, parse_release_time(settings.release_time))
        clock.set(due)
        started = time.perf_counter()
        released = release_due(portal)
        elapsed = time.perf_counter() - started
        database.dispose()
        assert len(released) == n, (len(released), n)
        outcome: dict[str, Any] = {"released": len(released), "seconds": elapsed}
        if observer is not None:
            assert sorted(seen[0] for seen in observer.seen) == sorted(released), "the observer missed changes"
            assert {seen[3] for seen in observer.seen} == {"release"}, {seen[3] for seen in observer.seen}
            outcome.update(observed=len(observer.seen), hook=observer.style)
        return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    parser.add_argument(
        "--observer",
        action="store_true",
        help="each run also releases with one recording observer plugin registered (see above)",
    )
    args = parser.parse_args()
    loadavg_start = os.getloadavg()
    runs: list[dict[str, Any]] = []
    observed: list[dict[str, Any]] = []
    for number in range(args.runs):
        # With --observer the order alternates from run to run, so that a drifting machine favours neither.
        if args.observer and number % 2:
            observed.append(one_run(args.n, args.database_url or None, observe=True))
        runs.append(one_run(args.n, args.database_url or None))
        if args.observer and not number % 2:
            observed.append(one_run(args.n, args.database_url or None, observe=True))
    seconds = [r["seconds"] for r in runs]
    summary: dict[str, Any] = {
        "n": args.n,
        "runs": seconds,
        "median_seconds": statistics.median(seconds),
        "target_seconds": 10,
        "met": statistics.median(seconds) + 5 <= 10,
    }
    if observed:
        with_observer = [r["seconds"] for r in observed]
        summary["observer"] = {
            "hook": observed[0]["hook"],
            "observed_per_run": [r["observed"] for r in observed],
            "runs": with_observer,
            "median_seconds": statistics.median(with_observer),
            "met": statistics.median(with_observer) + 5 <= 10,
            "x_without": round(statistics.median(with_observer) / statistics.median(seconds), 2),
        }
    summary["loadavg"] = {"start": loadavg_start, "end": os.getloadavg()}
    summary["core"] = str(Path(core.__file__).resolve().parent)  # which tree was measured
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
