"""Production-mode background work against the real Redis, with ``dramatiq`` worker processes.

Each test uses its own Redis key namespace (removed afterwards) and starts its own worker processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from core.portal import Portal
from core.worker.broker import reset_broker
from core.worker.runner import relay_once
from core.workflow import actions as workflow
from tests.integration.test_notifications import Inbox, free_port
from tests.support import World

REDIS_URL = os.environ.get("BBPORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not _redis_available(), reason=f"Redis is not reachable at {REDIS_URL}")


@pytest.fixture(autouse=True)
def real_clock(portal: Portal) -> None:
    """The worker processes run on the real clock, so the relay in the test must too."""
    from core.platform.clock import SystemClock

    portal.clock = SystemClock()


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"bbtest-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


@pytest.fixture
def broker(namespace: str) -> Iterator[Any]:
    from dramatiq.brokers.redis import RedisBroker

    made = RedisBroker(url=REDIS_URL, namespace=namespace, heartbeat_timeout=10_000, maintenance_chance=1_000_000)
    made.declare_queue("outbox")
    yield made
    made.close()
    reset_broker()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def start_worker(
    portal: Portal, namespace: str, smtp: tuple[Inbox, int], tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(crash: str = "", processes_per_group: int = 1, **extra_env: str) -> subprocess.Popen[bytes]:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BBPORTAL_", "PYTEST", "HYPOTHESIS"))},
            "BBPORTAL_DATABASE_URL": portal.database.url,
            "BBPORTAL_REDIS_URL": REDIS_URL,
            "BBPORTAL_REDIS_NAMESPACE": namespace,
            "BBPORTAL_SECRET_KEY": portal.settings.resolved_secret_key,
            "BBPORTAL_BASE_URL": portal.settings.base_url,
            "BBPORTAL_DATA_DIR": str(tmp_path / "worker-data"),
            "BBPORTAL_SMTP_HOST": "127.0.0.1",
            "BBPORTAL_SMTP_PORT": str(smtp[1]),
            "BBPORTAL_SMTP_SECURITY": "none",
            "BBPORTAL_TEST_CRASH": crash,
            "BBPORTAL_TEST_CRASH_MARKER": str(tmp_path / "crashed"),
            "PYTHONPATH": str(ROOT),
            **extra_env,
        }
        log = (tmp_path / f"worker-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq",
                "core.worker.main",
                "tests.worker_crash",
                "--processes",
                str(processes_per_group),
                "--threads",
                "2",
                "--queues",
                "outbox",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def relay_until(portal: Portal, broker: Any, condition: Callable[[], bool], seconds: float) -> bool:
    def step() -> bool:
        relay_once(portal, broker)
        return condition()

    return wait_for(step, seconds)


def test_status_mail_goes_through_redis_and_a_worker_process(
    portal: Portal, world: World, broker: Any, smtp: tuple[Inbox, int], start_worker: Any
) -> None:
    inbox, _port = smtp
    start_worker()
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    assert relay_until(portal, broker, lambda: len(inbox.messages) == 1, 30)
    assert inbox.messages[0][2]["Subject"].startswith(f"[BB-{filed.id}]")


def test_broker_unreachable_when_filed_then_delivered_once_it_is_back(
    portal: Portal, world: World, broker: Any, smtp: tuple[Inbox, int], start_worker: Any, namespace: str
) -> None:
    from dramatiq.brokers.redis import RedisBroker

    inbox, _port = smtp
    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    away = RedisBroker(url=f"redis://127.0.0.1:{free_port()}/0", namespace=namespace)
    away.declare_queue("outbox")
    with pytest.raises(Exception):  # noqa: B017  (any connection error: the broker is away)
        relay_once(portal, away)
    start_worker()
    assert relay_until(portal, broker, lambda: len(inbox.messages) == 1, 30)
    time.sleep(1)
    assert len(inbox.messages) == 1


@pytest.mark.parametrize("step", ["before_send", "after_send"])
def test_worker_killed_mid_job_finishes_after_restart(
    portal: Portal, world: World, broker: Any, smtp: tuple[Inbox, int], start_worker: Any, step: str, tmp_path: Path
) -> None:
    inbox, _port = smtp
    first = start_worker(crash=step)
    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    relay_until(portal, broker, lambda: (tmp_path / "crashed").exists(), 30)
    assert wait_for(lambda: first.poll() is not None, 30), "the killed worker's process group exits"
    started = time.monotonic()
    start_worker()
    assert relay_until(portal, broker, lambda: len(inbox.messages) == (2 if step == "after_send" else 1), 60)
    redelivered_after = time.monotonic() - started
    print(f"redelivered {step} after {redelivered_after:.1f} s")
    assert redelivered_after < 40, f"redelivery took {redelivered_after:.0f} s"
    time.sleep(1)
    messages = [m for _f, _r, m in inbox.messages]
    if step == "before_send":
        assert len(messages) == 1  # nothing lost, nothing repeated
    else:
        assert len(messages) == 2 and messages[0]["Message-ID"] == messages[1]["Message-ID"]


def test_redis_that_lost_its_messages_gets_the_rows_in_flight_again(
    portal: Portal, world: World, broker: Any, smtp: tuple[Inbox, int], start_worker: Any, namespace: str
) -> None:
    """Redis restarted without persistence: the relay notices and hands out again what it held, in seconds
    (not after ``REDELIVER_AFTER``). Found by the topology test (tests/topology)."""
    from core.platform import outbox
    from core.worker.runner import recover_lost_messages

    inbox, _port = smtp
    assert recover_lost_messages(portal, broker) == 0  # the first relay against this Redis leaves its marker
    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    assert relay_once(portal, broker) >= 1  # handed to Redis, nobody consumes it yet
    assert recover_lost_messages(portal, broker) == 0  # Redis still holds it
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{namespace}*"):  # the restart: Redis comes back empty
        client.delete(key)
    assert relay_once(portal, broker) == 0  # the row counts as in flight

    def database_away(_portal: Portal) -> int:
        raise RuntimeError("the database is away for a moment")

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(outbox, "forget_in_flight", database_away)
        with pytest.raises(RuntimeError):
            recover_lost_messages(portal, broker)
    assert recover_lost_messages(portal, broker) >= 1  # the next round still knows of the loss
    assert recover_lost_messages(portal, broker) == 0
    start_worker()
    assert relay_until(portal, broker, lambda: len(inbox.messages) == 1, 30)


def test_two_worker_processes_count_into_one_folder_and_log_the_filings_request_id(
    portal: Portal, world: World, broker: Any, smtp: tuple[Inbox, int], start_worker: Any, tmp_path: Path
) -> None:
    """``dramatiq --processes 2`` as deployed: what the workers count, ``/metrics`` adds up from the folder; what
    they log is JSON with the request id of the filing whose jobs they ran. (Not "job handed out": the receipt's
    job is handed out by whichever relay gets to it first, the worker's own after its commit or this test's.)"""
    from prometheus_client.parser import text_string_to_metric_families

    from core.platform import request_ids
    from core.web.metrics import exposition

    inbox, _port = smtp
    folder = tmp_path / "metrics"
    start_worker(processes_per_group=2, PROMETHEUS_MULTIPROC_DIR=str(folder), BBPORTAL_LOG_FORMAT="json")
    trail = "redis-trail-" + uuid.uuid4().hex[:8]
    with request_ids.bound(trail):  # as the web request binds it
        workflow.file(portal, world.member, "fault_report", world.fault(), None)
    assert relay_until(portal, broker, lambda: len(inbox.messages) == 1, 30)

    def logged() -> list[dict[str, Any]]:
        lines = (tmp_path / "worker-0.log").read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def done(topic: str) -> bool:
        return any(line.get("event") == "job done" and line.get("topic") == topic for line in logged())

    assert wait_for(lambda: done("send_mail"), 20), (tmp_path / "worker-0.log").read_text()
    ours = [line for line in logged() if line.get("request_id") == trail]
    assert {"job done", "mail sent"} <= {line["event"] for line in ours}
    assert {line["topic"] for line in ours if line["event"] == "job done"} == {"request_filed", "send_mail"}

    assert len(list(folder.glob("counter_*.db"))) >= 1
    portal.settings.metrics_dir = folder
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition(portal).decode())
        for sample in family.samples
    }
    assert samples[("bbportal_mails_sent_total", (("kind", "request_filed"),))] == 1
    assert samples[("bbportal_jobs_total", (("outcome", "done"), ("topic", "request_filed")))] == 1
    assert samples[("bbportal_jobs_total", (("outcome", "done"), ("topic", "send_mail")))] == 1
