"""Housekeeping: each kind it removes, that nothing still alive goes with it, its log lines and metrics, the
daily claim, and the command line.

The file kinds run against both storages (the folder, and S3-compatible storage on moto's server).
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY
from sqlmodel import col, select

from core.accounts import auth, throttle
from core.api import hookimpl
from core.conversation import chat
from core.conversation.reminders import send_due_reminders
from core.models import Attachment, LoginAttempt, SentMail, WebSession
from core.platform import outbox
from core.platform.clock import FixedClock
from core.platform.db import insert_rows
from core.platform.outbox import OutboxMessage, OutboxStatus
from core.platform.settings import Settings
from core.portal import Portal
from core.requests.attachments import Upload, stage
from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from core.workflow import housekeeping
from plugins.log_extract import CSV_ORIGIN
from tests import files
from tests.outbox_rows import outbox_row
from tests.s3 import use_s3
from tests.support import World

DAY = timedelta(days=1)


def removed_metric(kind: str) -> float:
    return REGISTRY.get_sample_value("bbportal_housekeeping_removed_total", {"kind": kind}) or 0.0


# --- sessions and log-in attempts ---------------------------------------------------------------------------


def test_expired_sessions_go_and_live_ones_stay(portal: Portal, world: World, clock: FixedClock) -> None:
    days = portal.settings.session_days
    with portal.database.writing() as session:
        old = auth.start_session(session, world.member, secret_key=portal.secret_key, clock=clock, days=days)
    clock.advance(timedelta(days=days - 1))
    with portal.database.writing() as session:
        live = auth.start_session(session, world.member, secret_key=portal.secret_key, clock=clock, days=days)
    clock.advance(2 * DAY)  # the first has expired, the second has days left
    before = removed_metric("sessions")
    assert housekeeping.run(portal)["sessions"] == 1
    assert removed_metric("sessions") == before + 1
    with portal.database.reading() as session:
        assert len(session.exec(select(WebSession)).all()) == 1
        assert auth.resolve_session(session, live, secret_key=portal.secret_key, clock=clock)[0] is not None
        assert auth.resolve_session(session, old, secret_key=portal.secret_key, clock=clock)[0] is None


def test_log_in_failures_go_once_they_no_longer_count(portal: Portal, world: World, clock: FixedClock) -> None:
    policy = throttle.LoginPolicy.of(portal.settings)
    keys = throttle.Keys.of("anna@kund.example", "10.0.0.1")
    with portal.database.writing() as session:
        throttle.record_failure(session, keys, now=clock.now())  # three rows: account, address, pair
    clock.advance(policy.memory - timedelta(minutes=1))
    with portal.database.writing() as session:
        throttle.record_failure(session, keys, now=clock.now())
    clock.advance(timedelta(minutes=2))  # the first failures are past the memory; the second ones still count
    assert housekeeping.run(portal)["login_attempts"] == 3
    with portal.database.reading() as session:
        left = session.exec(select(LoginAttempt.at)).all()
    assert len(left) == 3 and all(clock.now() - moment < policy.memory for moment in map(_utc, left))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the outbox -------------------------------------------------------------------------------------------------


def test_done_jobs_go_after_the_kept_days_and_pending_or_failed_ones_never(portal: Portal, clock: FixedClock) -> None:
    now = clock.now()
    keep = timedelta(days=portal.settings.outbox_keep_days)
    old_done = {**outbox_row("x", {"n": 1}, now - keep - DAY), "status": OutboxStatus.DONE.value}
    old_done["done_at"] = now - keep - timedelta(hours=1)
    recent_done = {**outbox_row("x", {"n": 2}, now - keep), "status": OutboxStatus.DONE.value}
    recent_done["done_at"] = now - keep + timedelta(hours=1)
    old_pending = outbox_row("x", {"n": 3}, now - keep - DAY)
    old_failed = {**outbox_row("x", {"n": 4}, now - keep - DAY), "status": OutboxStatus.FAILED.value}
    with portal.database.writing() as session:
        insert_rows(session, OutboxMessage, [old_done, recent_done, old_pending, old_failed])
    assert housekeeping.run(portal)["outbox"] == 1
    with portal.database.reading() as session:
        left = sorted(row.payload["n"] for row in session.exec(select(OutboxMessage)))
    assert left == [2, 3, 4]


def test_many_done_jobs_go_in_batches(portal: Portal, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "REMOVE_BATCH", 3)
    then = clock.now() - timedelta(days=portal.settings.outbox_keep_days + 1)
    rows = [{**outbox_row("x", {"n": n}, then), "status": OutboxStatus.DONE.value, "done_at": then} for n in range(7)]
    with portal.database.writing() as session:
        insert_rows(session, OutboxMessage, rows)
    assert outbox.remove_done(portal, clock.now()) == 7
    with portal.database.reading() as session:
        assert session.exec(select(OutboxMessage)).all() == []


def test_a_question_still_open_is_not_reminded_again_once_its_job_is_gone(
    portal: Portal, world: World, clock: FixedClock
) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    chat.post(portal, world.staff, filed.id or 0, "Vilken dörr gäller det?", ask_customer=True)
    outbox.drain(portal)
    clock.advance(timedelta(days=7))
    assert send_due_reminders(portal) == 1
    outbox.drain(portal)
    with portal.database.reading() as session:
        assert session.exec(select(SentMail).where(SentMail.kind == "reminder")).all() != []
    clock.advance(timedelta(days=portal.settings.outbox_keep_days + 1))
    assert housekeeping.run(portal)["outbox"] >= 1  # the reminder's done job among them
    assert send_due_reminders(portal) == 0


# --- files --------------------------------------------------------------------------------------------------------


@pytest.fixture
def test_settings(request: pytest.FixtureRequest, test_settings: Settings) -> Settings:
    """The folder, or S3-compatible storage for the tests parametrised with ``BOTH_STORAGES``."""
    if getattr(request, "param", "folder") == "s3":
        use_s3(test_settings, request.getfixturevalue("s3_endpoint"))
    return test_settings


BOTH_STORAGES = pytest.mark.parametrize("test_settings", ["folder", "s3"], indirect=True)


def keys(portal: Portal) -> list[str]:
    return sorted(found.key for found in portal.storage.files(""))


def to_real_time(clock: FixedClock, later: timedelta) -> None:
    """Files carry the storage's own time (the disk's, the S3 server's): move the portal's clock to it."""
    clock.set(datetime.now(UTC) + later)


@BOTH_STORAGES
def test_staged_files_never_recorded_go_after_a_day(portal: Portal, world: World, clock: FixedClock) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    recorded = stage(portal.storage, Upload("bild.png", io.BytesIO(files.png())), max_bytes=1_000_000)
    chat.post(portal, world.member, filed.id or 0, "Bild", files=[recorded])
    left_behind = stage(portal.storage, Upload("glömd.png", io.BytesIO(files.png())), max_bytes=1_000_000)
    orphan_extract = f"requests/{filed.id}/0123456789abcdef"  # a fulfilment's file whose row never committed
    portal.storage.save(orphan_extract, [b"half an extract"])
    own = "plugin-files/kept.bin"  # a key outside the staged families: never the sweep's business
    portal.storage.save(own, [b"mine"])
    everything = sorted([recorded.storage_key, left_behind.storage_key, orphan_extract, own])
    assert keys(portal) == everything

    to_real_time(clock, timedelta(hours=23))  # under a day: a form may still hold its files
    assert housekeeping.run(portal)["staged_files"] == 0 and keys(portal) == everything

    to_real_time(clock, DAY + timedelta(minutes=5))
    before = removed_metric("staged_files")
    assert housekeeping.run(portal)["staged_files"] == 2
    assert removed_metric("staged_files") == before + 2
    assert keys(portal) == sorted([recorded.storage_key, own])
    with portal.storage.open(recorded.storage_key) as handle:
        assert handle.read() == files.png()


@BOTH_STORAGES
def test_extracts_go_after_their_days_and_nothing_else_does(portal: Portal, world: World, clock: FixedClock) -> None:
    workflow.file(
        portal, world.member, "log_extract", {"system_id": world.system.id, "extract": {"kind": "users"}}, None
    )
    outbox.drain(portal)
    fault = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    photo = stage(portal.storage, Upload("bild.png", io.BytesIO(files.png())), max_bytes=1_000_000)
    chat.post(portal, world.member, fault.id or 0, "Bild", files=[photo])

    def attachments() -> dict[str, str]:
        with portal.database.reading() as session:
            rows = session.exec(select(Attachment).order_by(col(Attachment.id)))
            return {row.origin or row.filename: row.storage_key for row in rows}

    made = attachments()
    assert CSV_ORIGIN in made and "bild.png" in made
    clock.advance(timedelta(days=portal.settings.extract_keep_days) - timedelta(hours=1))
    assert housekeeping.run(portal).get("extracts") == 0 and attachments() == made

    clock.advance(timedelta(hours=2))
    before = removed_metric("extracts")
    assert housekeeping.run(portal)["extracts"] == 1
    assert removed_metric("extracts") == before + 1
    assert attachments() == {"bild.png": made["bild.png"]}  # a person's file is never an expired extract
    assert not portal.storage.exists(made[CSV_ORIGIN]) and portal.storage.exists(made["bild.png"])


def test_extracts_are_kept_for_ever_with_zero_days(portal: Portal, world: World, clock: FixedClock) -> None:
    portal.settings.extract_keep_days = 0
    workflow.file(
        portal, world.member, "log_extract", {"system_id": world.system.id, "extract": {"kind": "users"}}, None
    )
    outbox.drain(portal)
    clock.advance(timedelta(days=3650))
    assert "extracts" not in housekeeping.run(portal)
    with portal.database.reading() as session:
        assert session.exec(select(Attachment).where(Attachment.origin == CSV_ORIGIN)).first() is not None


# --- the run as a whole ------------------------------------------------------------------------------------------


class _BrokenPlugin:
    @hookimpl
    def bbportal_housekeeping(self, context: Any) -> dict[str, int]:
        raise RuntimeError("the plugin's table is gone")


class _CountingPlugin:
    @hookimpl
    def bbportal_housekeeping(self, context: Any) -> dict[str, int]:
        return {"widgets": 4}


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [_BrokenPlugin(), _CountingPlugin()]


def failures() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "bbportal_housekeeping_failures"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def test_every_kind_is_logged_with_its_count_and_a_broken_plugin_stops_nothing(
    portal: Portal, caplog: pytest.LogCaptureFixture
) -> None:
    failed_before = failures()
    caplog.set_level(logging.INFO, logger="core.workflow.housekeeping")
    removed = housekeeping.run(portal)
    assert {"sessions", "login_attempts", "outbox", "staged_files", "extracts"} <= set(removed)
    assert removed["widgets"] == 4
    lines = [record.getMessage() for record in caplog.records]
    for kind in ("sessions", "login_attempts", "outbox", "staged_files", "extracts", "widgets"):
        assert f"housekeeping removed {removed[kind]} {kind}" in lines
    assert any("housekeeping of plugin" in line and "failed" in line for line in lines)
    assert failures() == failed_before + 1


def test_the_background_side_runs_it_once_a_day_whoever_asks(portal: Portal, clock: FixedClock) -> None:
    assert housekeeping.run_if_due(portal) is not None  # never run: due
    assert housekeeping.run_if_due(portal) is None  # the same day: not again, in this process or another
    clock.advance(DAY - timedelta(minutes=1))
    assert housekeeping.run_if_due(portal) is None
    clock.advance(timedelta(minutes=2))
    assert housekeeping._claim(portal, clock.now()) is True  # one process wins the day's claim …
    assert housekeeping._claim(portal, clock.now()) is False  # … and a second one asking at once does not
    assert housekeeping.run_if_due(portal) is None


def test_the_command_prints_each_kind(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    from core import cli

    monkeypatch.setattr(cli, "_portal", lambda: portal)
    result = CliRunner().invoke(cli.main, ["housekeeping"])
    assert result.exit_code == 0, result.output
    for kind in ("sessions", "login_attempts", "outbox", "staged_files", "extracts"):
        assert f"{kind}: 0 removed" in result.output


def test_the_background_tick_claims_and_runs_the_days_housekeeping(portal: Portal, clock: FixedClock) -> None:
    import time

    from core.platform.heartbeat import last_beat
    from core.worker.runner import Ticker

    ticker = Ticker(portal)
    ticker.start()
    try:
        deadline = time.monotonic() + 60  # a bound for a stuck thread, not a timing the test relies on
        claimed = None
        while claimed is None and time.monotonic() < deadline:
            with portal.database.reading() as session:
                claimed = last_beat(session, housekeeping.HEARTBEAT)
            time.sleep(0.05)
    finally:
        ticker.stop()
    assert claimed is not None and _utc(claimed) == clock.now()
    assert housekeeping.run_if_due(portal) is None  # the tick's run was the day's
