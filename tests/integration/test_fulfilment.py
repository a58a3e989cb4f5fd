"""Fulfilment modes end to end: automatic, on approval (Utför) and their failures, through the outbox."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlmodel import col, select

from core.api import FulfilmentContext, FulfilmentResult, hookimpl
from core.models import ChatMessage, Request, RequestHistory
from core.platform import outbox
from core.platform.outbox import OutboxMessage
from core.platform.storage import FolderStorage, StorageUnavailable
from core.portal import Portal
from core.requests.lifecycle import Action
from core.requests.statuses import Status
from core.workflow import actions as workflow
from core.workflow import topics
from tests.plugins.sample_types import ApprovalSample, AutomaticSample, SamplePlugin
from tests.support import World


@pytest.fixture
def extra_plugins() -> list[Any]:
    AutomaticSample.fail_next.clear()
    ApprovalSample.fail_next.clear()
    AutomaticSample.calls.clear()
    ApprovalSample.calls.clear()
    return [SamplePlugin(), FileMakingPlugin()]


class FileMaking(AutomaticSample):
    """An automatic type whose fulfilment stores a file (as an extract does)."""

    key = "sample_file"
    name = "File sample"

    def fulfil(self, request: Any, context: FulfilmentContext) -> FulfilmentResult:
        context.attach(request, filename="utdrag.txt", content_type="text/plain", chunks=[b"hej\n"], origin="x")
        return FulfilmentResult(ok=True)


class FileMakingPlugin:
    @hookimpl
    def bbportal_request_types(self) -> list[Any]:
        return [FileMaking()]


class FlakyStorage(FolderStorage):
    """A shared folder that is gone for the first ``failures`` writes."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def save(self, key: str, chunks: Any, *, max_bytes: int | None = None) -> int:
        if self.failures:
            self.failures -= 1
            raise StorageUnavailable("the share is not mounted")
        return super().save(key, chunks, max_bytes=max_bytes)


def stored(portal: Portal, request_id: int) -> Request:
    with portal.database.reading() as s:
        request = s.get(Request, request_id)
        assert request is not None
        return request


def messages(portal: Portal, request_id: int) -> list[tuple[str, bool]]:
    with portal.database.reading() as s:
        return [
            (m.body, m.internal)
            for m in s.exec(
                select(ChatMessage).where(ChatMessage.request_id == request_id).order_by(col(ChatMessage.id))
            )
        ]


def test_automatic_type_is_carried_out_by_the_system_actor(portal: Portal, world: World) -> None:
    filed = workflow.file(portal, world.member, "sample_automatic", {"note": "spärra"}, None)
    outbox.drain(portal)
    done = stored(portal, filed.id or 0)
    assert done.status == Status.COMPLETED and done.assignee_id is None
    with portal.database.reading() as s:
        actors = [
            (h.action, h.actor_id) for h in s.exec(select(RequestHistory).where(RequestHistory.request_id == filed.id))
        ]
    assert actors == [("file", world.member.id), ("start_fulfilment", None), ("fulfilment_succeeded", None)]
    assert messages(portal, filed.id or 0) == [("adapter said ok", True), ("Done.", False)]
    assert AutomaticSample.calls == [filed.id]


def test_a_fulfil_that_raises_leaves_a_note_in_the_staffs_language(
    portal: Portal, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: AutomaticSample, request: Any, context: Any) -> Any:
        raise KeyError("holder")

    monkeypatch.setattr(AutomaticSample, "fulfil", broken)
    filed = workflow.file(portal, world.member, "sample_automatic", {"note": "x"}, None)
    outbox.drain(portal)
    assert stored(portal, filed.id or 0).needs_attention
    assert messages(portal, filed.id or 0) == [
        (
            "Det automatiska steget stoppades av ett oväntat fel; den tekniska informationen finns i historiken. "
            "Tryck Försök igen, eller utför ärendet för hand.",
            True,
        )
    ]
    with portal.database.reading() as s:
        failed = s.exec(
            select(RequestHistory).where(
                RequestHistory.request_id == filed.id, RequestHistory.action == "fulfilment_failed"
            )
        ).one()
    assert failed.details == {"error": "KeyError: 'holder'"}  # the exception's own text, kept apart for staff


def test_the_technical_detail_is_folded_away_for_staff_and_never_shown_to_the_customer(
    portal: Portal, world: World, make_web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: AutomaticSample, request: Any, context: Any) -> Any:
        raise RuntimeError("adapter returned <html>502</html>")

    monkeypatch.setattr(AutomaticSample, "fulfil", broken)
    filed = workflow.file(portal, world.member, "sample_automatic", {"note": "x"}, None)
    outbox.drain(portal)
    staff = make_web()
    staff.login(world.staff.email)
    page = staff.get(f"/staff/requests/{filed.id}").text
    detail = re.search(r'<details class="technical">\s*<summary>([^<]+)</summary>\s*<pre>([^<]*)</pre>', page)
    assert detail is not None, "the staff page folds the technical detail away under the history row"
    assert detail.group(1) == "Teknisk information"
    assert detail.group(2) == "RuntimeError: adapter returned &lt;html&gt;502&lt;/html&gt;"
    customer = make_web()
    customer.login(world.member.email)
    assert "adapter returned" not in customer.get(f"/requests/{filed.id}").text


def test_failed_automatic_fulfilment_stays_open_flagged_and_a_retry_finishes_it(portal: Portal, world: World) -> None:
    AutomaticSample.fail_next.append("Access-control system did not answer")
    filed = workflow.file(portal, world.member, "sample_automatic", {"note": "x"}, None)
    outbox.drain(portal)
    failed = stored(portal, filed.id or 0)
    assert failed.status == Status.IN_PROGRESS and failed.needs_attention and failed.assignee_id is None
    assert messages(portal, filed.id or 0) == [("Access-control system did not answer", True)]
    workflow.perform(portal, world.staff, filed.id or 0, Action.CARRY_OUT)  # "Retry"
    outbox.drain(portal)
    assert stored(portal, filed.id or 0).status == Status.COMPLETED


def test_a_fulfilment_that_could_not_store_its_file_is_retried_then_completes(portal: Portal, world: World) -> None:
    portal.storage = FlakyStorage(portal.settings.resolved_storage_dir, failures=2)
    filed = workflow.file(portal, world.member, "sample_file", {"note": "x"}, None)
    for _ in range(2):
        outbox.drain(portal)
        waiting = stored(portal, filed.id or 0)
        assert waiting.status == Status.IN_PROGRESS and waiting.fulfilment_running and not waiting.needs_attention
        assert messages(portal, filed.id or 0) == []  # not a failure for staff yet: the outbox tries again
        portal.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    outbox.drain(portal)
    done = stored(portal, filed.id or 0)
    assert done.status == Status.COMPLETED and portal.storage.failures == 0
    assert [p.name for p in portal.settings.resolved_storage_dir.rglob("*") if p.is_file()] != []


def test_a_storage_that_never_recovers_leaves_staff_a_note_after_the_last_attempt(portal: Portal, world: World) -> None:
    portal.storage = FlakyStorage(portal.settings.resolved_storage_dir, failures=outbox.MAX_ATTEMPTS)
    filed = workflow.file(portal, world.member, "sample_file", {"note": "x"}, None)
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.drain(portal)
        portal.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    failed = stored(portal, filed.id or 0)
    assert failed.status == Status.IN_PROGRESS and failed.needs_attention and not failed.fulfilment_running
    [(note, internal)] = messages(portal, filed.id or 0)
    assert internal and "kunde inte spara sin fil" in note
    with portal.database.reading() as s:
        fulfil = s.exec(select(OutboxMessage).where(OutboxMessage.topic == "fulfil")).one()
    assert fulfil.status == "done" and fulfil.attempts == outbox.MAX_ATTEMPTS


def test_on_approval_runs_when_staff_press_utfor(portal: Portal, world: World, make_web: Any) -> None:
    filed = workflow.file(portal, world.member, "sample_approval", {"note": "behörighet"}, None)
    outbox.drain(portal)
    assert stored(portal, filed.id or 0).status == Status.PENDING  # nothing happens before approval
    staff = make_web()
    staff.login(world.staff.email)
    staff.post(f"/staff/requests/{filed.id}/take")
    page = staff.post(f"/staff/requests/{filed.id}/carry_out", follow_redirects=True)
    assert "Utförs just nu" in page.text
    assert stored(portal, filed.id or 0).fulfilment_running
    refused = staff.post(f"/staff/requests/{filed.id}/complete")
    assert refused.status_code == 409
    outbox.drain(portal)
    assert stored(portal, filed.id or 0).status == Status.COMPLETED
    assert ApprovalSample.calls == [filed.id]


def test_on_approval_failure_keeps_it_in_progress_with_a_note(portal: Portal, world: World) -> None:
    ApprovalSample.fail_next.append("timeout")
    filed = workflow.file(portal, world.member, "sample_approval", {"note": "x"}, None)
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    workflow.perform(portal, world.staff, filed.id or 0, Action.CARRY_OUT)
    outbox.drain(portal)
    request = stored(portal, filed.id or 0)
    assert request.status == Status.IN_PROGRESS and request.assignee_id == world.staff.id
    assert messages(portal, filed.id or 0) == [("timeout", True)]


def test_a_redelivered_message_does_not_run_the_hook_twice(portal: Portal, world: World) -> None:
    filed = workflow.file(portal, world.member, "sample_automatic", {"note": "x"}, None)
    outbox.drain(portal)
    with portal.database.reading() as s:
        fulfil = s.exec(select(OutboxMessage).where(OutboxMessage.topic == "fulfil")).one()
    with portal.database.writing() as s:  # as if the broker handed the same message out again
        row = s.get(OutboxMessage, fulfil.id)
        assert row is not None
        row.status = "pending"
        s.add(row)
    outbox.process(portal, fulfil.id or 0)
    assert AutomaticSample.calls == [filed.id]


def test_a_crashing_handler_is_retried_with_backoff_then_marked_failed(
    portal: Portal, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    calls: list[int] = []

    def broken(_portal: Portal, message: OutboxMessage) -> None:
        calls.append(message.id or 0)
        raise RuntimeError("database away")

    monkeypatch.setitem(topics.HANDLERS, "fulfil", broken)
    filed = workflow.file(portal, world.member, "sample_automatic", {"note": "x"}, None)
    outbox.drain(portal)
    with portal.database.reading() as s:
        message = s.exec(select(OutboxMessage).where(OutboxMessage.topic == "fulfil")).one()
    assert message.status == "pending" and message.attempts == 1 and "database away" in message.last_error
    for _ in range(outbox.MAX_ATTEMPTS):
        portal.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
        outbox.drain(portal)
    with portal.database.reading() as s:
        message = s.exec(select(OutboxMessage).where(OutboxMessage.topic == "fulfil")).one()
    assert message.status == "failed" and message.attempts == outbox.MAX_ATTEMPTS
    monkeypatch.undo()
    outbox.retry(portal, message.id or 0)
    outbox.drain(portal)
    assert stored(portal, filed.id or 0).status == Status.COMPLETED


def test_the_embedded_worker_runs_dramatiq_in_process(portal: Portal, world: World) -> None:
    from core.platform.clock import SystemClock
    from core.worker.runner import EmbeddedWorker

    portal.clock = SystemClock()  # the relay compares due times with the real clock here
    worker = EmbeddedWorker(portal)
    worker.start()
    try:
        filed = workflow.file(portal, world.member, "sample_automatic", {"note": "x"}, None)
        deadline = time.monotonic() + 20
        while stored(portal, filed.id or 0).status != Status.COMPLETED and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stored(portal, filed.id or 0).status == Status.COMPLETED
    finally:
        worker.stop()


def test_failed_jobs_are_visible_and_retried_from_the_page_and_the_cli(
    portal: Portal, world: World, web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from core import cli

    def broken(_portal: Portal, message: OutboxMessage) -> None:
        raise RuntimeError("SMTP says no")

    monkeypatch.setitem(topics.HANDLERS, "request_filed", broken)
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    for _ in range(outbox.MAX_ATTEMPTS + 1):
        outbox.drain(portal)
        portal.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    web.login(world.staff_admin.email)
    page = web.get("/admin/jobs").text
    assert "SMTP says no" in page and f"BB-{filed.id}" in page
    job_id = int(re.search(r'action="/admin/jobs/(\d+)/retry"', page).group(1))  # type: ignore[union-attr]
    monkeypatch.setattr(cli, "_portal", lambda: portal)
    listed = CliRunner().invoke(cli.main, ["jobs", "failed"])
    assert f"#{job_id}" in listed.output and "SMTP says no" in listed.output
    monkeypatch.undo()
    web.post(f"/admin/jobs/{job_id}/retry")
    outbox.drain(portal)
    assert "Inget jobb har misslyckats." in web.get("/admin/jobs").text


class CountingPlugin:
    """A plugin with an observer that enqueues its own topic, and the handler for it."""

    handled: ClassVar[list[int]] = []

    @hookimpl
    def bbportal_status_changed(self, request: Request, context: Any) -> None:
        context.enqueue("counting.changed", request_id=request.id)

    @hookimpl
    def bbportal_outbox_handlers(self) -> dict[str, Any]:
        def handle(_portal: Portal, message: OutboxMessage) -> None:
            CountingPlugin.handled.append(int(message.payload["request_id"]))

        return {"counting.changed": handle, "fulfil": handle}  # the core's own topic is not replaced


def test_plugins_handle_their_own_outbox_topics(portal: Portal, world: World, test_settings: Any) -> None:
    from core.portal import build_portal

    CountingPlugin.handled.clear()
    with_plugin = build_portal(
        test_settings, database=portal.database, clock=portal.clock, extra_plugins=[SamplePlugin(), CountingPlugin()]
    )
    filed = workflow.file(with_plugin, world.member, "sample_automatic", {"note": "x"}, None)
    outbox.drain(with_plugin)
    assert stored(with_plugin, filed.id or 0).status == Status.COMPLETED  # "fulfil" still the core's
    assert CountingPlugin.handled == [filed.id, filed.id]  # pending → in progress → completed


def test_fulfilment_outcomes_are_counted(portal: Portal, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """``bbportal_fulfilments_total``: a success, a failure for staff, and a run the hosted system postponed."""
    from core.platform.metrics import FULFILMENTS

    def counted(outcome: str) -> float:
        return FULFILMENTS.labels(type="sample_automatic", outcome=outcome)._value.get()

    before = {outcome: counted(outcome) for outcome in ("succeeded", "failed", "postponed")}
    workflow.file(portal, world.member, "sample_automatic", {"note": "ok"}, None)
    outbox.drain(portal)
    AutomaticSample.fail_next.append("Access-control system did not answer")
    workflow.file(portal, world.member, "sample_automatic", {"note": "fails"}, None)
    outbox.drain(portal)
    later = FulfilmentResult(ok=False, retry_later=True, internal_note="busy")
    monkeypatch.setattr(AutomaticSample, "fulfil", lambda self, request, context: later)
    workflow.file(portal, world.member, "sample_automatic", {"note": "later"}, None)
    outbox.drain(portal)
    assert {outcome: counted(outcome) - before[outcome] for outcome in before} == {
        "succeeded": 1,
        "failed": 1,
        "postponed": 1,
    }
