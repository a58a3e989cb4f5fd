"""Bulk-load N requests into a fresh embedded data folder, fast (benchmark data, not a migration tool).

    .venv/bin/python bench/load_requests.py --n 100000 --data-dir /tmp/bb-bench-100k
    .venv/bin/python bench/load_requests.py --n 1000000 --data-dir /tmp/bb-pg \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bbbench     # an empty database

Creates the folder (refuses a non-empty one unless ``--force``), migrates the schema, loads the demo data
(core.demo.load) and then inserts N fault reports spread over the demo organisations, their systems and
requesters, with matching history rows, in a realistic mix of statuses and times over the past two years:

* ids follow ``created_at`` (oldest first), as they would in a real installation;
* open requests (pending, in progress, waiting, scheduled) are recent; closed ones span two years;
* the requester follows each request (``request_follower``, when the schema has it), as filing does;
* every request has its ``file`` history row; a request whose status differs from the one it was filed
  in has a second row that leads to its current status (``status`` == ``to_status`` of its newest row);
* about a third of the requests have a conversation: a staff question on every request waiting for the
  customer and on some others, a reply on some completed ones, an internal note on a few;
* ``--outbox`` also writes the outbox rows the portal itself would have left behind: one ``request_filed``
  per request and one ``status_changed`` per later transition, already handled (*done*), so that the
  outbox table has a realistic size without giving the embedded worker a backlog to work through.

On PostgreSQL (``--database-url``; the database must exist and be empty) the same rows go in through
``COPY … FROM STDIN`` (text format: the SQLite encoding above is also valid PostgreSQL input, with the
session's time zone set to UTC), the request id sequence is moved past the loaded ids, and the tables are
``VACUUM (ANALYZE)``d, so that the planner sees a million rows and not the empty tables of the migration, and
the visibility map is set as autovacuum would have set it on a database in use.

On SQLite, inserts go through SQLAlchemy Core ``insert()`` with executemany, 10,000 rows per batch, one transaction
per ``--commit-every`` rows. To keep SQLAlchemy's per-value bind processing (JSON, the UTC datetime type)
out of the hot loop, the inserts target untyped ``table()`` clauses of the same tables and the values are
encoded here exactly as the model's column types store them on SQLite (naive-UTC ``YYYY-MM-DD
HH:MM:SS.ffffff`` text, ``json.dumps`` text, 0/1); ``_check`` reads rows back through the models to prove it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BATCH = 10_000

# Status mix: mostly completed, some open. Fractions of N.
STATUS_MIX = (
    ("completed", 0.85),
    ("cancelled", 0.05),
    ("pending", 0.04),
    ("in_progress", 0.03),
    ("scheduled", 0.02),
    ("waiting_for_customer", 0.01),
)
# How many days back each status's requests were filed (open requests are recent).
AGE_DAYS = {
    "completed": (2, 730),
    "cancelled": (1, 730),
    "pending": (0, 14),
    "in_progress": (0, 30),
    "waiting_for_customer": (0, 45),
    "scheduled": (0, 20),
}
# The last transition that led to each status: (action, from_status, done by staff?).
LAST_STEP = {
    "completed": ("complete", "in_progress", True),
    "in_progress": ("take", "pending", True),
    "waiting_for_customer": ("ask_customer", "in_progress", True),
}

LOCATIONS = (
    "Huvudentrén, Storgatan 1",
    "Port B, Storgatan 3",
    "Garageporten",
    "Cykelrummet",
    "Tvättstugan",
    "Soprummet",
    "Entré Hamngatan 12",
    "Källardörren",
    "Port A, Kajen 4",
    "Lastkajen",
)
DESCRIPTIONS = (
    "Låset i entrén öppnar inte alltid.",
    "Porttelefonen ringer inte hos de boende.",
    "Taggen fungerar inte i läsaren.",
    "Dörren går inte i lås efter kl 22.",
    "Displayen på porttelefonen är svart.",
    "Läsaren blinkar rött och inget händer.",
)
QUESTIONS = (
    "Gäller det alla taggar eller bara en? Vilket nummer står på taggen?",
    "Kan ni beskriva när det händer, dagtid eller kväll?",
    "Behöver teknikern nyckel till undercentralen?",
)
ANSWERS = (
    "Åtgärdat: läsaren är utbytt och fungerar igen.",
    "Låset är justerat. Hör av er om det krånglar igen.",
    "Porttelefonen är omstartad och ringer nu som den ska.",
)
NOTES = ("Tekniker bokad.", "Kund ringde, bekräftat.", "Reservdel beställd.")
CONTACTS = (("Anna Kund", "070-123 45 67"), ("Erik Medlem", "073-555 12 34"), ("Hanna Hamn", "031-123 45 67"))


def _ts(moment: datetime | None) -> str | None:
    """A naive-UTC datetime as SQLAlchemy's SQLite DateTime stores it."""
    return None if moment is None else moment.isoformat(sep=" ", timespec="microseconds")


def _world(database: Any) -> dict[str, Any]:
    """The demo organisations with their active systems and customer users, and the staff."""
    from sqlmodel import col, select

    from core.models import Organisation, System, User

    with database.reading() as session:
        orgs = list(session.exec(select(Organisation).order_by(col(Organisation.id))))
        world = []
        for org in orgs:
            systems = [s.id for s in session.exec(select(System).where(System.organisation_id == org.id))]
            users = [u.id for u in session.exec(select(User).where(User.organisation_id == org.id))]
            if systems and users:
                world.append({"id": org.id, "systems": systems, "users": users})
        staff = [u.id for u in session.exec(select(User).where(User.kind == "staff").order_by(col(User.id)))]
    if not world or not staff:
        raise SystemExit("the demo data has no organisation with systems and users, or no staff")
    return {"orgs": world, "staff": staff}


def _plan(n: int, rng: random.Random, now: datetime) -> list[tuple[datetime, str]]:
    """(created_at, status) for N requests, oldest first."""
    plan: list[tuple[datetime, str]] = []
    remaining = n
    for index, (status, share) in enumerate(STATUS_MIX):
        count = remaining if index == len(STATUS_MIX) - 1 else min(remaining, round(n * share))
        remaining -= count
        low, high = AGE_DAYS[status]
        for _ in range(count):
            plan.append((now - timedelta(seconds=rng.uniform(low * 86400, high * 86400 + 3600)), status))
    plan.sort(key=lambda item: item[0])
    return plan


def _rows(
    start_id: int,
    chunk: list[tuple[datetime, str]],
    world: dict[str, Any],
    rng: random.Random,
    now: datetime,
    with_outbox: bool,
) -> tuple[list[dict[str, Any]], ...]:
    """Encoded rows of one batch; ``now`` and the planned times are naive UTC."""
    requests: list[dict[str, Any]] = []
    reminded: list[dict[str, Any]] = []
    chat: list[dict[str, Any]] = []
    followers: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    orgs = world["orgs"]
    weights = [len(o["users"]) for o in orgs]  # organisations with more users file more
    staff = world["staff"]
    today = (now + timedelta(hours=1)).date()
    dumps = json.dumps
    for offset, (created, status) in enumerate(chunk):
        request_id = start_id + offset
        org = rng.choices(orgs, weights)[0]
        system_id = rng.choice(org["systems"])
        requester = rng.choice(org["users"])
        location = rng.choice(LOCATIONS)
        description = rng.choice(DESCRIPTIONS)
        urgency = "urgent" if rng.random() < 0.05 else ("low" if rng.random() < 0.2 else "normal")
        contact, phone = rng.choice(CONTACTS)
        data = {
            "system_id": system_id,
            "location": location,
            "description": description,
            "since": None,
            "urgency": urgency,
            "contact_name": contact,
            "contact_phone": phone,
            "technician_access": "",
        }
        first_status = "scheduled" if status == "scheduled" else "pending"
        carry_out_on = (today + timedelta(days=rng.randint(1, 60))).isoformat() if status == "scheduled" else None
        created_s = _ts(created)
        steps: list[tuple[str | None, int, str, str | None, str, str]] = [
            (created_s, requester, "file", None, first_status, "")
        ]
        assignee = None
        if status in LAST_STEP:
            last_action, last_from, _by_staff = LAST_STEP[status]
            assignee = staff[0] if rng.random() < 0.8 else rng.choice(staff)
            at = min(created + timedelta(minutes=rng.uniform(10, 5 * 24 * 60)), now)
            steps.append((_ts(at), assignee, last_action, last_from, status, ""))
        elif status == "cancelled":
            withdrawn = rng.random() < 0.7
            at = min(created + timedelta(minutes=rng.uniform(5, 3 * 24 * 60)), now)
            steps.append(
                (
                    _ts(at),
                    requester if withdrawn else staff[0],
                    "withdraw" if withdrawn else "reject",
                    "pending",
                    "cancelled",
                    "" if withdrawn else "Dubblett.",
                )
            )
        requests.append(
            {
                "id": request_id,
                "type_key": "fault_report",
                "schema_version": 1,
                "data": dumps(data),
                "summary": f"{location}: {description}"[:300],
                "status": status,
                "carry_out_on": carry_out_on,
                "queued_at": None if status == "scheduled" else created_s,
                "priority": 1 if urgency == "urgent" else 0,
                "assignee_id": assignee,
                "organisation_id": org["id"],
                "requester_id": requester,
                "system_id": system_id,
                "fulfilment_running": 0,
                "needs_attention": 0,
                "version": len(steps),
                "created_at": created_s,
                "updated_at": steps[-1][0],
            }
        )
        followers.append({"request_id": request_id, "user_id": requester, "following": 1})
        asked = status == "waiting_for_customer" or (status in ("completed", "in_progress") and rng.random() < 0.15)
        if asked:
            chat.append(_message(request_id, staff[0], rng.choice(QUESTIONS), False, steps[-1][0] or created_s))
        if status == "waiting_for_customer":
            # a portal in use has reminded these already: without it, the first start would mail them all
            reminded.append(
                {
                    "message_id": f"<bench-reminder-{request_id}@bench.invalid>",
                    "request_id": request_id,
                    "user_id": requester,
                    "kind": "reminder",
                    "sent_at": steps[-1][0] or created_s,
                    "text": "Påminnelse (benchmark data)",
                }
            )
        if status == "completed" and rng.random() < 0.25:
            chat.append(_message(request_id, staff[0], rng.choice(ANSWERS), False, steps[-1][0] or created_s))
        if status != "cancelled" and rng.random() < 0.05:
            chat.append(_message(request_id, staff[0], rng.choice(NOTES), True, steps[-1][0] or created_s))
        for at_s, actor, action, from_status, to_status, reason in steps:
            history.append(
                {
                    "request_id": request_id,
                    "at": at_s,
                    "actor_id": actor,
                    "action": action,
                    "from_status": from_status,
                    "to_status": to_status,
                    "reason": reason,
                    "details": "{}",
                }
            )
            if with_outbox:
                payload: dict[str, Any]
                if action == "file":
                    topic, payload = "request_filed", {"request_id": request_id}
                else:
                    topic, payload = (
                        "status_changed",
                        {
                            "request_id": request_id,
                            "from_status": from_status,
                            "to_status": to_status,
                            "action": action,
                        },
                    )
                outbox.append(
                    {
                        "topic": topic,
                        "payload": dumps(payload),
                        "status": "done",
                        "attempts": 1,
                        "last_error": "",
                        "created_at": at_s,
                        "available_at": at_s,
                        "relayed_at": at_s,
                        "done_at": at_s,
                    }
                )
    return requests, history, outbox, followers, chat, reminded


def _message(request_id: int, author: int, body: str, internal: bool, at: str | None) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "author_id": author,
        "body": body,
        "internal": int(internal),
        "via": "portal",
        "inbound_mail_id": None,
        "created_at": at,
    }


def _searchable(row: dict[str, Any]) -> str:
    """The search index's text of a loaded request, as filing writes it (names apart: the loader has ids)."""
    from core.requests.search_text import request_text

    data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
    return request_text(row["summary"], {k: v for k, v in data.items() if not k.endswith("_id")}, "", "")


def _search_rows(requests: list[dict[str, Any]], chat: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """The search index's rows of loaded requests with their conversations, as filing and the chat write them."""
    public: dict[int, list[str]] = {}
    internal: dict[int, list[str]] = {}
    for message in chat:
        (internal if message["internal"] else public).setdefault(message["request_id"], []).append(message["body"])
    return [
        (
            row["id"],
            "\n".join([_searchable(row), *public.get(row["id"], [])]),
            "\n".join(internal.get(row["id"], [])),
        )
        for row in requests
    ]


def _untyped(model: Any) -> Any:
    """A ``table()`` clause with the model table's name and columns but no types (no bind processing)."""
    from sqlalchemy import column, table

    real = model.__table__
    return table(real.name, *(column(c.name) for c in real.columns))


def _fill_defaults(model: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Columns this loader does not set (e.g. added by a later migration) get the model's scalar default."""
    if not rows:
        return rows
    missing: dict[str, Any] = {}
    for column in model.__table__.columns:
        if column.name in rows[0] or column.primary_key:
            continue
        default = column.default.arg if column.default is not None and column.default.is_scalar else None
        if default is None and not column.nullable:
            raise SystemExit(
                f"{model.__tablename__}.{column.name} is required and has no default: "
                "teach bench/load_requests.py to fill it"
            )
        missing[column.name] = int(default) if isinstance(default, bool) else default
    if missing:
        for row in rows:
            row.update(missing)
    return rows


def _check(database: Any, first_id: int, last_id: int) -> None:
    """Read loaded rows back through the models: the encoding must be what the column types produce."""
    from sqlmodel import col, select

    from core.models import Request, RequestHistory

    with database.reading() as session:
        for request_id in {first_id, (first_id + last_id) // 2, last_id}:
            request = session.get(Request, request_id)
            assert request is not None and request.created_at.tzinfo is not None, request_id
            assert isinstance(request.data, dict) and request.data["system_id"] == request.system_id
            rows = list(
                session.exec(
                    select(RequestHistory)
                    .where(RequestHistory.request_id == request_id)
                    .order_by(col(RequestHistory.id))
                )
            )
            assert rows and rows[0].action == "file" and rows[-1].to_status == request.status, request_id
            assert rows[-1].at == request.updated_at and rows[0].at == request.created_at, request_id


def _copier(connection: Any) -> Any:
    """A function that COPYs encoded rows into a model's table on this (PostgreSQL) connection."""
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'UTC'")  # the rows' naive times are UTC, as on SQLite

    def copy(model: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        rows = _fill_defaults(model, rows)
        names = list(rows[0])
        columns = ", ".join(f'"{name}"' for name in names)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{model.__tablename__}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[name] for name in names])

    return copy


def _inserter(connection: Any) -> Any:
    """A function that INSERTs encoded rows into a model's table on this (SQLite) connection, executemany."""
    connection.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MB page cache for index upkeep

    from sqlalchemy import insert

    def write(model: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            connection.execute(insert(_untyped(model)), _fill_defaults(model, rows))

    return write


def load(
    data_dir: Path,
    n: int,
    *,
    seed: int = 2026,
    commit_every: int = 100_000,
    with_outbox: bool = False,
    force: bool = False,
    quiet: bool = False,
    database_url: str = "",
) -> dict[str, Any]:
    """Create, migrate and fill ``data_dir`` (or the PostgreSQL database at ``database_url``); returns timings
    and counts."""
    data_dir = data_dir.resolve()
    if data_dir.exists() and any(data_dir.iterdir()) and not force:
        raise SystemExit(f"{data_dir} is not empty (use --force to load into it anyway)")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["BBPORTAL_DATA_DIR"] = str(data_dir)
    postgres = database_url.startswith("postgresql")

    from sqlalchemy import text

    from core import demo, models
    from core.migrate import upgrade
    from core.models import ChatMessage, Request, RequestHistory, SentMail
    from core.platform.clock import SystemClock
    from core.platform.db import create_database
    from core.platform.outbox import OutboxMessage
    from core.requests import search

    follower_model = getattr(models, "RequestFollower", None)  # newer schemas only

    def say(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    database = create_database(database_url if postgres else f"sqlite:///{data_dir / 'bbportal.db'}")
    try:
        if postgres:
            with database.read_engine.connect() as connection:
                if connection.execute(text("SELECT to_regclass('request')")).scalar() is not None:
                    raise SystemExit(f"{database_url} is not empty: give a new database")
        upgrade(database)
        with database.writing() as session:
            demo.load(session, SystemClock())
        setup_s = time.perf_counter() - started
        world = _world(database)
        rng = random.Random(seed)
        now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as stored
        plan = _plan(n, rng, now)
        with database.read_engine.connect() as connection:
            start_id = int(connection.execute(text("SELECT coalesce(max(id), 0) FROM request")).scalar_one()) + 1

        insert_started = time.perf_counter()
        counts = {
            "request": 0,
            "request_history": 0,
            "chat_message": 0,
            "outbox": 0,
            "request_follower": 0,
            "sent_mail": 0,
        }
        position = 0
        while position < n:
            transaction_end = min(n, position + commit_every)
            with database.write_engine.begin() as connection:
                write = _copier(connection) if postgres else _inserter(connection)
                while position < transaction_end:
                    chunk = plan[position : min(transaction_end, position + BATCH)]
                    requests, history, outbox, followers, chat, reminded = _rows(
                        start_id + position, chunk, world, rng, now, with_outbox
                    )
                    tables: list[tuple[Any, list[dict[str, Any]]]] = [
                        (Request, requests),
                        (RequestHistory, history),
                        (ChatMessage, chat),
                        (OutboxMessage, outbox),
                        (SentMail, reminded),
                    ]
                    if follower_model is not None:
                        tables.append((follower_model, followers))
                    for model, rows in tables:
                        write(model, rows)
                        counts[model.__tablename__] += len(rows)
                    search.add_rows(connection, _search_rows(requests, chat))
                    position += len(chunk)
            elapsed = time.perf_counter() - insert_started
            say(f"  {position:>9,} requests  {elapsed:7.1f} s  {position / elapsed:9,.0f} requests/s")
        if postgres:
            with database.write_engine.begin() as connection:
                connection.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('request', 'id'), (SELECT max(id) FROM request))"
                )
            with database.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                # VACUUM too: the visibility map of a freshly COPYed table is empty, so every index-only scan (the
                # counts) visits the heap and the planner probes it for the newest ids, until autovacuum gets to it
                connection.exec_driver_sql("VACUUM (ANALYZE)")
        insert_s = time.perf_counter() - insert_started
        if n:
            _check(database, start_id, start_id + n - 1)
        if postgres:
            with database.read_engine.connect() as connection:
                db_bytes = int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    finally:
        database.dispose()
    if not postgres:
        # Outside SQLAlchemy (whose connections always open a transaction): fold the WAL into the file.
        raw = sqlite3.connect(data_dir / "bbportal.db", isolation_level=None)
        try:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raw.execute("PRAGMA optimize")
        finally:
            raw.close()
        db_bytes = (data_dir / "bbportal.db").stat().st_size
    total_s = time.perf_counter() - started
    rows = sum(counts.values())
    summary: dict[str, Any] = {
        "n": n,
        "data_dir": str(data_dir),
        "database": "postgresql" if postgres else "sqlite",
        "setup_s": round(setup_s, 2),
        "insert_s": round(insert_s, 2),
        "total_s": round(total_s, 2),
        "rows": counts,
        "requests_per_s": round(n / insert_s) if insert_s else None,
        "rows_per_s": round(rows / insert_s) if insert_s else None,
        "db_bytes": db_bytes,
        "statuses": {s: sum(1 for _, st in plan if st == s) for s, _ in STATUS_MIX},
    }
    say(
        f"loaded {n:,} requests ({rows:,} rows) in {insert_s:.1f} s: {summary['requests_per_s']:,} requests/s, "
        f"{summary['rows_per_s']:,} rows/s; database {summary['db_bytes'] / 1e6:.0f} MB; total {total_s:.1f} s"
    )
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="requests to insert (default 100,000)")
    parser.add_argument("--data-dir", type=Path, required=True, help="a new (empty) folder for the data")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--commit-every", type=int, default=100_000, help="requests per transaction")
    parser.add_argument(
        "--outbox",
        action="store_true",
        help="also write the (handled) request_filed/status_changed outbox rows the portal leaves",
    )
    parser.add_argument("--force", action="store_true", help="load into a non-empty folder")
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database instead of SQLite")
    args = parser.parse_args(argv)
    summary = load(
        args.data_dir,
        args.n,
        seed=args.seed,
        commit_every=args.commit_every,
        with_outbox=args.outbox,
        force=args.force,
        database_url=args.database_url,
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
