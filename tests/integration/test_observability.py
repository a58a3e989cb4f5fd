"""Metrics and logs: ``/metrics`` behind its token, the database's state and the counters in it, the counters of
several processes added up, and a filing's request id from the web request into its outbox rows and the log
lines of the jobs, the relay and the mail they cause."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from core.conversation.intake import Refused, receive
from core.platform import logs, metrics, outbox
from core.platform.clock import FixedClock
from core.platform.errors import ConfigurationError
from core.platform.outbox import OutboxMessage
from core.platform.settings import Settings
from core.portal import Portal
from tests.integration.test_api import token_for
from tests.support import World

TOKEN = "metrics-token-" + "m" * 24
SCRAPE = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def test_settings(test_settings: Settings) -> Settings:
    test_settings.metrics_token = TOKEN
    return test_settings


def scrape(web: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` by name and labels."""
    answer = web.client.get("/metrics", headers=SCRAPE)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def file_fault(web: Any, portal: Portal, world: World, **headers: str) -> Any:
    answer = web.client.post(
        "/api/v1/requests",
        headers={**token_for(portal, world.member), **headers},
        json={"type": "fault_report", "data": world.fault(), "carry_out_on": None},
    )
    assert answer.status_code == 201, answer.text
    return answer


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The process's log lines as the production format writes them (JSON), captured in a buffer."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure(Settings(log_format="json", _env_file=None), stream=buffer)  # type: ignore[call-arg]
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


# --- /metrics ---------------------------------------------------------------------------------------------------


def test_without_a_token_configured_there_is_no_metrics_page(portal: Portal, web: Any) -> None:
    portal.settings.metrics_token = ""
    assert web.client.get("/metrics").status_code == 404
    assert web.client.get("/metrics", headers={"authorization": "Bearer "}).status_code == 404


def test_metrics_need_the_token(portal: Portal, world: World, web: Any) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}, {"authorization": "Basic x"}):
        answer = web.client.get("/metrics", headers=headers)
        assert answer.status_code == 401, headers
        assert "bbportal_requests" not in answer.text
    # An API token of a user (even staff's) is not the metrics token.
    assert web.client.get("/metrics", headers=token_for(portal, world.staff)).status_code == 401
    assert value(scrape(web), "bbportal_requests", status="pending") == 0
    assert "/metrics" not in web.client.get("/schema/openapi.json").text


def test_the_gauges_reflect_filed_requests_and_outbox_rows(
    portal: Portal, world: World, web: Any, clock: FixedClock
) -> None:
    before = scrape(web)
    for _ in range(2):
        file_fault(web, portal, world)
    with portal.database.reading() as session:
        topics = set(session.exec(select(OutboxMessage.topic).where(OutboxMessage.status == "pending")))
    clock.advance(timedelta(seconds=90))
    after = scrape(web)
    pending = value(before, "bbportal_requests", status="pending")
    assert value(after, "bbportal_requests", status="pending") == pending + 2
    assert value(after, "bbportal_requests", status="completed") == 0  # every status is there, also when 0
    assert topics and all(value(after, "bbportal_outbox_jobs", topic=t, status="pending") >= 1 for t in topics)
    assert value(after, "bbportal_outbox_oldest_waiting_seconds") >= 90

    outbox.drain(portal)
    drained = scrape(web)
    assert all(value(drained, "bbportal_outbox_jobs", topic=t, status="pending") == 0 for t in topics)
    assert value(drained, "bbportal_outbox_oldest_waiting_seconds") == 0
    # Litestar's request metrics, by route template (never a request's number).
    paths = {dict(labels).get("path") for name, labels in drained if name == "bbportal_http_requests_total"}
    assert "/api/v1/requests" in paths and not any(p and p.startswith("/metrics") for p in paths)


def test_a_counter_moves_after_a_mail_is_sent(portal: Portal, world: World, web: Any) -> None:
    before = scrape(web)
    file_fault(web, portal, world)
    outbox.drain(portal)
    after = scrape(web)
    sent = {
        dict(labels)["kind"]: after[(name, labels)] - value(before, name, **dict(labels))
        for name, labels in after
        if name == "bbportal_mails_sent_total"
    }
    assert sum(sent.values()) >= 1, sent
    done = value(after, "bbportal_jobs_total", topic="send_mail", outcome="done")
    assert done > value(before, "bbportal_jobs_total", topic="send_mail", outcome="done")


def test_a_refused_mail_server_is_counted_and_logged_at_once(
    portal: Portal, world: World, web: Any, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(message: Any) -> None:
        raise ConnectionRefusedError("the mail server does not answer")

    monkeypatch.setattr(portal.mailer, "send", refuse)
    before = scrape(web)
    file_fault(web, portal, world)
    outbox.drain(portal)
    after = scrape(web)
    failed = sum(v for (name, _), v in after.items() if name == "bbportal_mails_failed_total")
    assert failed > sum(v for (name, _), v in before.items() if name == "bbportal_mails_failed_total")
    assert value(after, "bbportal_jobs_total", topic="send_mail", outcome="retry") > value(
        before, "bbportal_jobs_total", topic="send_mail", outcome="retry"
    )
    warnings = [line for line in parsed(log_lines) if line["event"] == "job failed; it runs again"]
    assert warnings and "ConnectionRefusedError" in warnings[0]["error"] and warnings[0]["level"] == "warning"


def test_inbound_mail_outcomes_are_counted(portal: Portal, web: Any) -> None:
    before = scrape(web)
    with pytest.raises(Refused):
        receive(portal, b"\r\n\r\n")
    receive(portal, b"From: someone@elsewhere.example\r\nTo: svar@x.example\r\nSubject: hi\r\n\r\nHello\r\n")
    after = scrape(web)
    for outcome in ("refused", "quarantined"):
        assert value(after, "bbportal_inbound_mails_total", outcome=outcome) == (
            value(before, "bbportal_inbound_mails_total", outcome=outcome) + 1
        )
    assert value(after, "bbportal_inbound_mails_quarantined") == value(before, "bbportal_inbound_mails_quarantined") + 1


def test_the_counters_of_several_processes_add_up(portal: Portal, web: Any, tmp_path: Path) -> None:
    """What ``dramatiq --processes 2`` and several web processes do: each counts in its own file of the folder."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    count = "from core.platform import metrics; metrics.MAILS_SENT.labels(kind='receipt_test').inc(3)"
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=environment, check=True, timeout=120)
    assert len(list(folder.glob("counter_*.db"))) == 2  # one file per process
    portal.settings.metrics_dir = folder
    samples = scrape(web)
    assert value(samples, "bbportal_mails_sent_total", kind="receipt_test") == 6
    assert "bbportal_requests" in {name for name, _ in samples}  # the database's state is still there


def test_a_counter_that_cannot_be_written_never_stops_the_work(
    portal: Portal, world: World, web: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``bbportal mail receive`` run by the MTA as a user who cannot write the folder still takes the mail."""

    def unwritable(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(tmp_path / "metrics"))

    for counter in (metrics.MAILS_SENT, metrics.JOBS, metrics.INBOUND_MAILS, metrics.JOB_SECONDS):
        monkeypatch.setattr(counter, "labels", unwritable)
    file_fault(web, portal, world)
    assert outbox.drain(portal) >= 2
    with portal.database.reading() as session:
        assert set(session.exec(select(OutboxMessage.status))) == {"done"}
    assert receive(portal, b"From: a@b.example\r\nSubject: x\r\n\r\nHello\r\n").status == "quarantined"


def test_production_refuses_a_metrics_token_without_the_folder_or_too_short() -> None:
    production = {
        "production": True,
        "secret_key": "Zq3" + "".join(chr(65 + i % 26) + chr(97 + i * 7 % 26) for i in range(30)),
        "database_url": "postgresql+psycopg://portal@127.0.0.1/portal",
        "_env_file": None,
    }
    Settings(**production).check_production()  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="PROMETHEUS_MULTIPROC_DIR"):
        Settings(**production, metrics_token=TOKEN).check_production()  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="too short"):
        Settings(**production, metrics_token="short", PROMETHEUS_MULTIPROC_DIR="/run/m").check_production()  # type: ignore[arg-type]
    Settings(**production, metrics_token=TOKEN, PROMETHEUS_MULTIPROC_DIR="/run/m").check_production()  # type: ignore[arg-type]
    assert Settings(**production).resolved_log_format == "json"  # type: ignore[arg-type]
    assert Settings(_env_file=None).resolved_log_format == "text"  # type: ignore[call-arg]


# --- the request id ---------------------------------------------------------------------------------------------


def test_a_filings_request_id_reaches_its_outbox_rows_and_the_log_lines_of_its_jobs(
    portal: Portal, world: World, web: Any, log_lines: io.StringIO
) -> None:
    trail = "lb-7f3a9c21-e2e"
    answer = file_fault(web, portal, world, **{"x-request-id": trail})
    assert answer.headers["x-request-id"] == trail
    with portal.database.reading() as session:
        filed = list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))
    assert filed and all(row.request_id == trail for row in filed)

    outbox.drain(portal)
    with portal.database.reading() as session:
        every = list(session.exec(select(OutboxMessage)))
    assert len(every) > len(filed)  # the jobs queued more (one mail per recipient) ...
    assert all(row.request_id == trail for row in every)  # ... and those carry the filing's id on
    lines = [line for line in parsed(log_lines) if line.get("request_id") == trail]
    events = {line["event"] for line in lines}
    assert {"job handed out", "job done", "mail sent"} <= events, events
    done = {line["topic"] for line in lines if line["event"] == "job done"}
    assert done == {row.topic for row in every}
    assert all(line["outbox_id"] for line in lines if line["event"] == "job done")
    # Once the job is over, nothing of it stays bound.
    logging.getLogger("core.test").warning("after the jobs")
    assert "request_id" not in parsed(log_lines)[-1]


def test_every_answer_has_a_request_id_and_an_insane_one_is_replaced(web: Any) -> None:
    first = web.client.get("/healthz").headers["x-request-id"]
    second = web.client.get("/healthz").headers["x-request-id"]
    assert first != second and len(first) == 32
    for insane in ("has space", "x" * 65, 'quote"d', "new\\nline", "-leading-dash"):
        answer = web.client.get("/healthz", headers={"x-request-id": insane})
        assert answer.headers["x-request-id"] != insane and len(answer.headers["x-request-id"]) == 32


def test_text_logs_are_readable_and_carry_the_request_id(portal: Portal, world: World, web: Any) -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure(Settings(log_format="text", _env_file=None), stream=buffer)  # type: ignore[call-arg]
    try:
        file_fault(web, portal, world, **{"x-request-id": "text-trail-1"})
        outbox.drain(portal)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    done = [line for line in buffer.getvalue().splitlines() if "job done" in line]
    assert done and all("request_id=text-trail-1" in line for line in done)
    assert not any(line.lstrip().startswith("{") for line in done)


def test_bbportal_metrics_serves_a_host_without_web_processes(portal: Portal, world: World, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BBPORTAL_")},
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "BBPORTAL_DATABASE_URL": portal.database.url,
        "BBPORTAL_DATA_DIR": str(tmp_path / "data"),
        "BBPORTAL_SECRET_KEY": portal.settings.secret_key,
        "BBPORTAL_METRICS_TOKEN": TOKEN,
    }
    count = "from core.platform import metrics; metrics.JOBS.labels(topic='send_mail', outcome='done').inc(5)"
    subprocess.run([sys.executable, "-c", count], env=environment, check=True, timeout=120)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "metrics", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 60
        while True:
            try:
                anonymous = httpx.get(url)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout and server.stdout.read()
                time.sleep(0.2)
        assert anonymous.status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/other", headers=SCRAPE).status_code == 404
        answer = httpx.get(url, headers=SCRAPE)
        assert answer.status_code == 200
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
        }
        assert value(samples, "bbportal_jobs_total", topic="send_mail", outcome="done") == 5
        assert value(samples, "bbportal_requests", status="pending") == 0
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("rendering", ["text", "json"])
def test_a_traceback_in_the_log_never_shows_local_variables(rendering: str) -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure(Settings(log_format=rendering, _env_file=None), stream=buffer)  # type: ignore[call-arg]
    password = "hunter2-" + rendering
    try:
        raise ValueError("the mail server said no")
    except ValueError:
        logging.getLogger("core.test").exception("sending failed for %s", "a user")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    written = buffer.getvalue()
    assert "ValueError: the mail server said no" in written and "sending failed for a user" in written
    assert password not in written
