"""The same-run ceiling: the cheapest "filing" this machine can serve right now, measured beside the portal.

A Litestar app with one route, ``POST /api/v1/requests``, doing the least every filing has to do: decode a
JSON body of a filing's size, take SQLite's writer's turn (WAL, ``busy_timeout``, ``BEGIN IMMEDIATE``, and the
same ``flock`` hand-over between processes as ``core.platform.db.WriterQueue``), one INSERT, COMMIT, and answer 201 with
a JSON body. No authentication (the ``Authorization`` header is ignored), no validation, no history, outbox or
billing rows, no background process.

It is served like ``bbportal serve`` serves the portal (``core/cli.py``, ``serve``): uvicorn with its defaults
(uvloop and httptools when installed, as in the venv), ``log_level="info"`` (one access log line per request),
``proxy_headers=True``, ``MALLOC_ARENA_MAX=2``; one web process per core up to 4 by default, started through
uvicorn's supervisor with ``timeout_worker_healthcheck=60`` when there are several. bench/run.py starts it as
its own process and drives it with bench/loadgen.py exactly like the portal's filing phase, so
"filing as a percentage of the ceiling" compares two figures taken minutes apart on the same machine.

    .venv/bin/python bench/ceiling_app.py --port 8001 --db /tmp/ceiling.db            # as bench/run.py does
    .venv/bin/python bench/ceiling_app.py --port 8001 --db /tmp/ceiling.db --workers 1
    .venv/bin/python bench/ceiling_app.py --port 8001 --db postgresql://postgres@127.0.0.1:5432/bbbench

With a PostgreSQL URL as ``--db`` (bench/topology.py, the production topology), each web process keeps one
psycopg connection and does the INSERT and COMMIT on it (autocommit off, one transaction per filing) into a
``ceiling_filing`` table of the same database as the portal's, so that both pay the same server and disk.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, post

DB_ENV = "BB_CEILING_DB"
MAX_DEFAULT_WEB_PROCESSES = 4  # as core.cli.MAX_DEFAULT_WEB_PROCESSES
SCHEMA = """
CREATE TABLE IF NOT EXISTS filing (
    id INTEGER PRIMARY KEY,
    type_key TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""
INSERT = "INSERT INTO filing (type_key, data, status, created_at) VALUES (?, ?, ?, ?)"
PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS ceiling_filing (
    id BIGSERIAL PRIMARY KEY,
    type_key TEXT NOT NULL,
    data JSON NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
)
"""
PG_INSERT = "INSERT INTO ceiling_filing (type_key, data, status, created_at) VALUES (%s, %s, %s, %s) RETURNING id"


def postgres_url(target: str) -> str | None:
    """The libpq URL when ``--db`` names a PostgreSQL database (SQLAlchemy's ``+psycopg`` dropped), else None."""
    if not target.startswith("postgresql"):
        return None
    return target.replace("postgresql+psycopg://", "postgresql://", 1)


def connect(path: str) -> sqlite3.Connection:
    """One connection with the portal's pragmas (``core.platform.db._sqlite_engine``); transactions begun by hand."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA busy_timeout=30000")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


def create_postgres_app(url: str) -> Litestar:
    """The PostgreSQL variant: one connection per web process, one transaction per filing."""
    import psycopg

    connection = psycopg.connect(url)

    @post("/api/v1/requests", status_code=201)
    async def file_request(data: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        fields = data.get("data") or {}
        with connection.transaction():
            row = connection.execute(
                PG_INSERT, (str(data.get("type", "")), json.dumps(fields, ensure_ascii=False), "pending", now)
            ).fetchone()
        assert row is not None
        return {
            "id": row[0],
            "type": data.get("type"),
            "status": "pending",
            "version": 1,
            "carry_out_on": data.get("carry_out_on"),
            "created_at": now.isoformat(),
            "updated_at": now.isoformat(),
            "data": fields,
        }

    return Litestar(route_handlers=[file_request], on_shutdown=[connection.close])


def create_app() -> Litestar:
    """The app of one web process: its own connection and lock file descriptor (uvicorn calls this per process)."""
    path = os.environ[DB_ENV]
    url = postgres_url(path)
    if url is not None:
        return create_postgres_app(url)
    connection = connect(path)
    lock_fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def writers_turn() -> Iterator[None]:
        # The handler runs on the event loop, so within a process one write happens at a time anyway;
        # the flock orders the processes, so that no writer sleeps in SQLite's busy handler.
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)

    @post("/api/v1/requests", status_code=201)
    async def file_request(data: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        fields = data.get("data") or {}
        with writers_turn():
            connection.execute("BEGIN IMMEDIATE")
            try:
                cursor = connection.execute(
                    INSERT, (str(data.get("type", "")), json.dumps(fields, ensure_ascii=False), "pending", now)
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return {
            "id": cursor.lastrowid,
            "type": data.get("type"),
            "status": "pending",
            "version": 1,
            "carry_out_on": data.get("carry_out_on"),
            "created_at": now,
            "updated_at": now,
            "data": fields,
        }

    def close() -> None:
        connection.close()
        os.close(lock_fd)

    return Litestar(route_handlers=[file_request], on_shutdown=[close])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The bare ceiling app (see the module docstring).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--db", required=True, help="SQLite file (created with its table when missing) or a PostgreSQL URL"
    )
    parser.add_argument("--workers", type=int, help="web processes (default: as bbportal serve, one per core up to 4)")
    args = parser.parse_args(argv)
    if "MALLOC_ARENA_MAX" not in os.environ:  # as bbportal serve: set before the interpreter's first malloc
        os.environ["MALLOC_ARENA_MAX"] = "2"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    import uvicorn

    url = postgres_url(args.db)
    if url is not None:
        import psycopg

        os.environ[DB_ENV] = url
        with psycopg.connect(url) as setup:
            setup.execute(PG_SCHEMA)
    else:
        os.environ[DB_ENV] = os.path.abspath(args.db)
        setup = connect(os.environ[DB_ENV])
        setup.execute(SCHEMA)
        setup.close()
    web_processes = args.workers or min(os.cpu_count() or 1, MAX_DEFAULT_WEB_PROCESSES)
    if web_processes == 1:
        uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info", proxy_headers=True)
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the spawned processes import ceiling_app
    uvicorn.run(
        "ceiling_app:create_app",
        factory=True,
        workers=web_processes,
        host=args.host,
        port=args.port,
        log_level="info",
        proxy_headers=True,
        timeout_worker_healthcheck=60,
    )


if __name__ == "__main__":
    main()
