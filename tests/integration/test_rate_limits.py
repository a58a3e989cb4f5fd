"""Rate limits on the API and on filing: per user, per client address, 429 with Retry-After in the user's language."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from sqlmodel import func, select

from core.models import Request
from core.platform.settings import Settings
from core.portal import Portal
from tests.integration.test_api import token_for
from tests.support import World

REDIS_URL = os.environ.get("BBPORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def test_settings(test_settings: Settings) -> Settings:
    test_settings.rate_limit_api_per_user = 5
    test_settings.rate_limit_api_per_address = 8
    test_settings.rate_limit_filings_per_user = 2
    return test_settings


def filed(portal: Portal) -> int:
    with portal.database.reading() as s:
        return int(s.exec(select(func.count()).select_from(Request)).one())


def test_one_users_api_calls_are_limited_and_the_answer_says_when_to_come_back(
    portal: Portal, world: World, web: Any
) -> None:
    member = token_for(portal, world.member)
    for _ in range(5):
        answer = web.client.get("/api/v1/requests", headers=member)
        assert answer.status_code == 200 and answer.headers["RateLimit-Limit"] == "5"
    refused = web.client.get("/api/v1/requests", headers=member)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    body = refused.json()
    assert body["status_code"] == 429 and body["detail"].startswith("För många förfrågningar på kort tid. Vänta ")
    colleague = token_for(portal, world.admin)  # another user has a budget of their own
    assert web.client.get("/api/v1/requests", headers=colleague).status_code == 200


def test_one_address_is_limited_over_all_its_users(portal: Portal, world: World, web: Any) -> None:
    tokens = [token_for(portal, world.member), token_for(portal, world.admin)]
    answers = [web.client.get("/api/v1/requests", headers=tokens[n % 2]).status_code for n in range(9)]
    assert answers == [200] * 8 + [429]  # 4 + 4 of each user's 5, then the address's 8 are used up


def test_filing_is_limited_per_user_with_a_page_in_their_language(
    portal: Portal, world: World, web: Any, make_web: Any
) -> None:
    web.login(world.member.email)
    for _ in range(2):
        assert web.post("/requests/new/fault_report", world.fault(), follow_redirects=False).status_code == 302
    refused = web.post("/requests/new/fault_report", world.fault(), follow_redirects=False)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "För många förfrågningar på kort tid" in refused.text and "inget sparades" in refused.text
    assert filed(portal) == 2
    assert web.get("/requests").status_code == 200  # reading pages is not filing

    english = make_web()
    english.login(world.admin.email)
    english.post("/language", {"language": "en", "next": "/"})
    for _ in range(2):
        english.post("/requests/new/fault_report", world.fault(), follow_redirects=False)
    page = english.post("/requests/new/fault_report", world.fault(), follow_redirects=False)
    assert page.status_code == 429 and "Too many requests in a short time" in page.text


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.mark.skipif(not _redis_available(), reason=f"Redis is not reachable at {REDIS_URL}")
def test_with_redis_every_web_process_shares_the_counts(portal: Portal, world: World, test_settings: Settings) -> None:
    import redis
    from litestar.testing import TestClient

    from core.web.app import create_app

    namespace = f"bbportal-test-{uuid.uuid4().hex[:12]}"
    portal.settings.redis_url = REDIS_URL
    portal.settings.redis_namespace = namespace
    try:
        member = token_for(portal, world.member)
        with TestClient(create_app(portal)) as first, TestClient(create_app(portal)) as second:
            answers = [(first if n % 2 else second).get("/api/v1/requests", headers=member) for n in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]  # two apps, one budget of 5
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
