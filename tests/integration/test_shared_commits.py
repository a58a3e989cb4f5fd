"""Filing's group commit on SQLite: writes that arrive together share one writer's turn and one COMMIT,
each in its own savepoint, and every caller gets its own result or its own error."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlmodel import Session, select

from core.models import Office
from core.platform.db import Database


def _office(number: int) -> Any:
    def work(session: Session) -> int:
        if number % 7 == 3:
            session.add(Office(name=f"Doomed {number}", email="x@example.com", phone="08-1"))
            session.flush()
            raise ValueError(f"job {number} refuses")
        office = Office(name=f"Kontor {number}", email=f"k{number}@example.com", phone="08-1234500")
        session.add(office)
        session.flush()
        return int(office.id or 0)

    return work


def test_concurrent_writes_share_commits_and_keep_their_own_outcome(database: Database) -> None:
    if database.shared_commits is None:
        pytest.skip("group commit is SQLite's; PostgreSQL writers run side by side")
    batches: list[int] = []
    real_lead = database.shared_commits._lead

    def counting_lead() -> None:
        with database.shared_commits._lock:  # type: ignore[union-attr]
            batches.append(len(database.shared_commits._queued))  # type: ignore[union-attr]
        real_lead()

    database.shared_commits._lead = counting_lead  # type: ignore[method-assign]
    outcomes: dict[int, Any] = {}
    start = threading.Barrier(24)

    def caller(number: int) -> None:
        start.wait()
        try:
            outcomes[number] = database.write_shared(_office(number))
        except ValueError as exc:
            outcomes[number] = exc

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 24
    for number, outcome in outcomes.items():
        if number % 7 == 3:
            assert isinstance(outcome, ValueError) and str(outcome) == f"job {number} refuses"
        else:
            assert isinstance(outcome, int) and outcome > 0
    with database.reading() as session:
        names = sorted(o.name for o in session.exec(select(Office)))
    assert names == sorted(f"Kontor {n}" for n in range(24) if n % 7 != 3)  # the refused rolled back alone
    assert sum(batches) == 24 and max(batches) > 1  # some writes did share a turn


def test_a_failed_commit_is_every_members_error(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    if database.shared_commits is None:
        pytest.skip("group commit is SQLite's")

    def failing_commit(self: Session) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Session, "commit", failing_commit)
    with pytest.raises(RuntimeError, match="disk full"):
        database.write_shared(_office(1))
    monkeypatch.undo()
    with database.reading() as session:
        assert session.exec(select(Office)).first() is None
    assert database.write_shared(_office(2)) > 0  # and the next writer leads again


def test_a_shared_write_made_inside_a_shared_write_joins_it(database: Database) -> None:
    """A hook that itself writes through ``write_shared`` (on the leader's thread) must not wait for itself."""

    def outer(session: Session) -> int:
        inner = database.write_shared(_office(12))
        return inner + int(_office(13)(session))

    assert database.write_shared(outer) > 0
    with database.reading() as session:
        assert sorted(o.name for o in session.exec(select(Office))) == ["Kontor 12", "Kontor 13"]


def test_the_work_runs_in_its_callers_context(database: Database) -> None:
    """The language (a context variable) is the caller's, whichever thread leads the batch."""
    from core.platform import i18n

    seen: list[str] = []

    def caller(language: str) -> None:
        i18n.set_language(language)
        database.write_shared(lambda _session: seen.append(i18n.current_language()))

    threads = [threading.Thread(target=caller, args=(lang,)) for lang in ("sv", "en") * 6]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(seen) == sorted(["sv", "en"] * 6)


def test_a_write_alone_in_its_turn_that_fails_leaves_nothing(database: Database) -> None:
    """A turn with one write runs it without a savepoint: its failure must roll the whole turn back."""
    with pytest.raises(ValueError, match="job 3 refuses"):
        database.write_shared(_office(3))  # adds an office, flushes it, then refuses
    with database.reading() as session:
        assert session.exec(select(Office)).first() is None
    assert database.write_shared(_office(4)) > 0
