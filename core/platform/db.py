"""Database engines and sessions: SQLite (WAL, busy timeout, BEGIN IMMEDIATE for writes) or PostgreSQL."""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

T = TypeVar("T")


@dataclass(frozen=True)
class Database:
    """A read engine and a write engine over one database.

    On SQLite the write engine starts every transaction with ``BEGIN IMMEDIATE`` so that a writer waits
    for the lock (busy timeout) instead of failing halfway with "database is locked"; readers use
    deferred transactions and never wait for writers in WAL mode. On PostgreSQL both are the same engine.
    """

    url: str
    read_engine: Engine
    write_engine: Engine
    write_lock: Any = None
    """SQLite only: writers queue here (:class:`WriterQueue`) instead of in SQLite's sleeping busy handler."""
    shared_commits: SharedCommits | None = None
    """SQLite only: the busiest writes of this process share one writer's turn (:meth:`write_shared`)."""

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with Session(self.read_engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        lock = self.write_lock if self.write_lock is not None else nullcontext()
        with lock, Session(self.write_engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def write_shared(self, work: Callable[[Session], T]) -> T:
        """``work`` in a write transaction that may be shared with other threads' ``write_shared`` calls.

        On SQLite the writes that arrive while another is under way are done together: one writer's turn,
        one commit, each in its own savepoint (one that fails is rolled back alone and raises in its own
        caller). Used for filing, the write that many clients make at once. Elsewhere it is ``writing()``.
        """
        if self.shared_commits is not None:
            return self.shared_commits.run(work)
        with self.writing() as session:
            return work(session)

    def dispose(self) -> None:
        self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose()


def insert_rows(session: Session, model: Any, rows: Sequence[Mapping[str, Any]], *, returning_id: bool = False) -> Any:
    """Plain INSERTs of new rows that nobody in this transaction needs as ORM objects.

    Filing writes five rows while it holds the database's one writer's turn; the ORM's unit of work cost
    several times the statements themselves there. The rows must name every column that has no database
    default (the models' Python-side defaults do not apply). ``returning_id`` returns the new row's id
    (one row; RETURNING on PostgreSQL, the row id on SQLite).

    On SQLite the statement goes straight to the driver (:func:`_sqlite_insert`): SQLAlchemy's execution
    path cost about 80 µs per statement there, ten times what SQLite needs, and all of it inside the turn.
    """
    if not rows:
        return None
    names = rows[0].keys()
    if any(row.keys() != names for row in rows):
        raise ValueError(f"every row of one insert_rows call names the same columns ({model.__tablename__})")
    missing = _unnamed_columns(model.__table__, frozenset(names))
    if missing:  # the same error on every database (PostgreSQL's path would fill Python-side defaults)
        raise ValueError(f"insert_rows must name every column of {model.__tablename__}; missing: {sorted(missing)}")
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        insert = _sqlite_insert(model.__table__, tuple(rows[0]), connection.dialect)
        return insert(connection, rows, returning_id)
    table = model.__table__
    if returning_id:
        key = connection.execute(table.insert(), dict(rows[0])).inserted_primary_key
        assert key is not None
        return key[0]
    connection.execute(table.insert(), [dict(row) for row in rows])
    return None


@lru_cache(maxsize=64)
def _unnamed_columns(table: Any, names: frozenset[str]) -> frozenset[str]:
    """Columns the rows leave out that only a Python-side default would fill (the key the database assigns and
    columns with a database default may be left out)."""
    assigned = table.autoincrement_column
    return frozenset(
        c.name for c in table.columns if c.name not in names and c is not assigned and c.server_default is None
    )


@lru_cache(maxsize=64)
def _sqlite_insert(
    table: Any, names: tuple[str, ...], dialect: Any
) -> Callable[[Any, Sequence[Mapping[str, Any]], bool], Any]:
    """An INSERT of ``names`` into ``table``, built once, that binds values as SQLAlchemy would.

    Each column's type converts its value with the bind processor SQLAlchemy itself uses on this dialect
    (dates and times as text, JSON serialised, booleans as integers), so rows written here read back exactly
    like rows written through the ORM (``tests/integration/test_insert_rows.py`` compares the two).
    """
    quote = dialect.identifier_preparer
    columns = [table.c[name] for name in names]
    sql = (
        f"INSERT INTO {quote.format_table(table)} ({', '.join(quote.format_column(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]

    def values(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value)
            for value, process in zip((row[name] for name in names), processors, strict=True)
        )

    def run(connection: Any, rows: Sequence[Mapping[str, Any]], returning_id: bool) -> Any:
        cursor = connection.connection.cursor()  # the driver's cursor, inside the session's transaction
        try:
            if returning_id:
                cursor.execute(sql, values(rows[0]))
                return cursor.lastrowid
            cursor.executemany(sql, [values(row) for row in rows])
            return None
        finally:
            cursor.close()

    return run


@dataclass(eq=False)
class _SharedWrite:
    work: Callable[[Session], Any]
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    """The caller's context (its language …): the leader runs the work in it, not in its own."""
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class SharedCommits:
    """Group commit for one process's SQLite writers.

    Only one writer at a time may write to SQLite, and every turn costs more than the few inserts a filing
    makes: the ``flock`` hand-over between processes, BEGIN and COMMIT, and above all the wait of a thread
    that has the turn but not yet Python's GIL. Under load the turn was busy 87 % of the time while the CPUs
    were not. So the first writer to arrive leads: it takes the turn, runs every write that queued meanwhile,
    each in a savepoint, and commits once; then it wakes the next waiting writer to lead the next batch.
    A batch commits or fails as a whole, so a failed COMMIT is every member's error.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._queued: list[_SharedWrite] = []
        self._leading = False
        self._batch_session = threading.local()
        """The leader's session while it runs a batch: a shared write made from inside one joins it."""

    def run(self, work: Callable[[Session], T]) -> T:
        session: Session | None = getattr(self._batch_session, "session", None)
        if session is not None:  # called from a job of the batch this thread leads: queueing would wait forever
            with session.begin_nested():
                return work(session)
        job = _SharedWrite(work)
        with self._lock:
            self._queued.append(job)
            leads = not self._leading
            self._leading = True
        if not leads:
            job.wake.wait()  # done by a leader, or asked to lead the next batch
        if not job.done:
            self._lead()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def _lead(self) -> None:
        with self._lock:
            batch, self._queued = self._queued, []
        try:
            with self._database.writing() as session:
                self._batch_session.session = session
                if len(batch) == 1:  # alone in the turn: no savepoint, a failure rolls the turn back
                    batch[0].result = batch[0].context.run(batch[0].work, session)
                else:
                    for job in batch:
                        try:
                            with session.begin_nested():
                                job.result = job.context.run(job.work, session)
                        except Exception as exc:  # this job's own failure: its savepoint is rolled back
                            job.error = exc
        except BaseException as exc:  # the turn or the COMMIT failed: nothing of the batch was written
            for job in batch:
                job.error, job.result = job.error or exc, None
        finally:
            self._batch_session.session = None
            for job in batch:
                job.done = True
                job.wake.set()
            with self._lock:
                if self._queued:
                    self._queued[0].wake.set()  # the next waiting writer leads the next batch
                else:
                    self._leading = False


class WriterQueue:
    """Writers of every thread and process take turns here before ``BEGIN IMMEDIATE``.

    SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps in growing steps
    (up to 100 ms) and so adds latency under load. A thread lock orders this process's writers, and an
    ``flock`` on a file beside the database orders the processes (several web processes and the background
    worker share one file): a waiting writer is woken the moment the lock is free. Re-entrant within a
    thread. Where ``fcntl`` is missing (Windows) only the thread lock is used.
    """

    def __init__(self, lock_path: str | None) -> None:
        self._thread_lock = threading.RLock()
        self._lock_path = lock_path
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> WriterQueue:
        self._thread_lock.acquire()
        try:
            if self._depth == 0 and self._lock_path is not None and _fcntl is not None:
                if self._fd is None:
                    self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                _fcntl.flock(self._fd, _fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise
        self._depth += 1
        return self

    def __exit__(self, *_exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None and _fcntl is not None:
                _fcntl.flock(self._fd, _fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (pysqlite's own BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_database(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Database:
    """The database at ``url``. ``pool_size`` and ``max_overflow`` size PostgreSQL's connection pool
    (``BBPORTAL_DB_POOL_SIZE``, ``BBPORTAL_DB_MAX_OVERFLOW``); SQLite's pools are local files' and stay fixed."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        lock_path = f"{path}.writer-lock" if path and path != ":memory:" else None
        database = Database(
            url, _sqlite_engine(url, immediate=False), _sqlite_engine(url, immediate=True), WriterQueue(lock_path)
        )
        object.__setattr__(database, "shared_commits", SharedCommits(database))  # frozen: set once, here
        return database
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)
    return Database(url, engine, engine)
