"""``/healthz`` and ``/readyz``: for machines, without log-in or cookies, and each readiness check named.

The background side is judged by the relay's heartbeat; the tests beat it as the relay does (``Pulse``) and
move the fixed clock past its limit, and one test runs the real embedded worker and waits for it to beat.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import text

from core.platform import heartbeat
from core.platform.clock import FixedClock
from core.platform.db import create_database
from core.platform.settings import Settings
from core.portal import Portal
from core.worker.runner import EmbeddedWorker, Pulse
from core.workflow import actions as workflow
from tests.integration.test_api import token_for
from tests.integration.test_mail_listener import CLOSED_DATABASE
from tests.support import World

REDIS_URL = os.environ.get("BBPORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def test_settings(test_settings: Settings) -> Settings:
    test_settings.rate_limit_api_per_address = 2
    return test_settings


def ready(web: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    answer = web.client.get("/readyz", **kwargs)
    assert "set-cookie" not in answer.headers
    return answer.status_code, answer.json()


def beat(portal: Portal) -> None:
    Pulse(portal)()  # what the relay does after each round that went through


def test_healthz_answers_without_the_database_cookies_or_a_valid_token(
    portal: Portal, web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal, "database", create_database(CLOSED_DATABASE))
    for headers in ({}, {"authorization": "Bearer revoked"}, {"cookie": "bb_session=stale; bb_anon=x"}):
        answer = web.client.get("/healthz", headers=headers)
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        assert "set-cookie" not in answer.headers
        assert len(answer.content) < 100


def test_readyz_names_every_check_and_is_ready_when_all_pass(portal: Portal, world: World, web: Any) -> None:
    beat(portal)
    status, body = ready(web)
    assert status == 200, body
    assert body == {
        "status": "ready",
        "failing": [],
        "checks": {"database": "ok", "migrations": "ok", "background": "ok", "outbox": "ok"},
    }  # no "redis": the portal has none


def test_readyz_fails_on_an_unreachable_database_and_says_so(
    portal: Portal, web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat(portal)
    monkeypatch.setattr(portal, "database", create_database(CLOSED_DATABASE))
    status, body = ready(web)
    assert status == 503 and body["failing"] == ["database"]
    assert body["checks"]["database"] == "failed (OperationalError)"  # the kind, never the server's address
    assert body["checks"]["migrations"].startswith("not checked")


def test_readyz_fails_while_the_schema_is_behind_the_code(portal: Portal, web: Any) -> None:
    beat(portal)
    with portal.database.writing() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    status, body = ready(web)
    assert status == 503 and body["failing"] == ["migrations"]
    assert "alembic_version" in body["checks"]["migrations"] and "bbportal db upgrade" in body["checks"]["migrations"]


def test_readyz_fails_when_the_background_side_stops_beating(portal: Portal, web: Any, clock: FixedClock) -> None:
    status, body = ready(web)
    assert status == 503 and body["failing"] == ["background"]  # never beaten: no relay has run
    beat(portal)
    clock.advance(heartbeat.MAX_AGE - timedelta(seconds=1))
    assert ready(web)[0] == 200
    clock.advance(timedelta(seconds=2))
    status, body = ready(web)
    assert status == 503 and body["failing"] == ["background"]
    assert body["checks"]["background"] == "no heartbeat for 61 s (limit 60 s)"


def test_a_relay_whose_worker_threads_died_stops_beating(portal: Portal) -> None:
    Pulse(portal, alive=lambda: False)()
    with portal.database.reading() as session:
        assert heartbeat.last_beat(session, heartbeat.RELAY) is None
    Pulse(portal, alive=lambda: True)()
    with portal.database.reading() as session:
        assert heartbeat.last_beat(session, heartbeat.RELAY) == portal.clock.now()


def test_the_embedded_worker_beats_and_readyz_sees_it(portal: Portal, web: Any) -> None:
    worker = EmbeddedWorker(portal)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while ready(web)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        status, body = ready(web)
        assert status == 200 and body["checks"]["background"] == "ok", body
        assert worker.alive()
        worker.worker.stop()  # its Dramatiq threads end: the relay runs on but no longer vouches for them
        assert not worker.alive()
    finally:
        worker.stop()


def test_readyz_fails_when_a_due_job_waits_too_long_for_the_relay(
    portal: Portal, world: World, web: Any, clock: FixedClock
) -> None:
    workflow.file(portal, world.member, "fault_report", world.fault(), None)  # its receipt mail is due now
    beat(portal)
    assert ready(web)[0] == 200
    clock.advance(timedelta(minutes=5, seconds=1))  # BBPORTAL_OUTBOX_MAX_WAIT_MINUTES, default 5
    beat(portal)
    status, body = ready(web)
    assert status == 503 and body["failing"] == ["outbox"]
    assert body["checks"]["outbox"] == "the oldest due job has waited 301 s for the relay (limit 300 s)"
    portal.settings.outbox_max_wait_minutes = 10
    assert ready(web)[0] == 200


def test_readyz_checks_redis_when_the_portal_uses_it(portal: Portal, web: Any) -> None:
    beat(portal)
    portal.settings.redis_url = "redis://127.0.0.1:1/0"  # nothing listens there
    status, body = ready(web)
    assert status == 503 and body["failing"] == ["redis"]
    assert body["checks"]["redis"] == "failed (ConnectionError)"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    portal.settings.redis_url = REDIS_URL
    status, body = ready(web)
    assert status == 200 and body["checks"]["redis"] == "ok", body


def test_probes_answer_when_the_rate_limits_apply(portal: Portal, world: World, web: Any) -> None:
    beat(portal)
    headers = token_for(portal, world.member)
    answers = [web.client.get("/api/v1/requests", headers=headers).status_code for _ in range(3)]
    assert answers == [200, 200, 429]  # this address has used its API budget
    for path in ("/healthz", "/readyz"):
        for _ in range(5):
            assert web.client.get(path, headers=headers).status_code == 200


def test_probes_are_not_in_the_openapi_document(web: Any) -> None:
    paths = web.client.get("/schema/openapi.json").json()["paths"]
    assert not {"/healthz", "/readyz"} & set(paths)
