"""Security headers on every answer: the walk covers every route of the app, filled with real ids, as its role.

The routes come from the application's own table (``app.routes``), so a route added later is walked too; a
path parameter the walk has no value for fails the test until one is added to :func:`values`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlmodel import col, select

from core.accounts import passwords
from core.conversation import chat, intake
from core.models import ApiToken, InboundMail
from core.platform import outbox
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.testing.fixtures import BASE_URL
from core.worker.runner import Pulse
from tests import files
from tests.billing_support import charges, complete, seed_agreement, seed_prices
from tests.integration.test_api import token_for
from tests.integration.test_attachments import staged
from tests.integration.test_intake import reply
from tests.integration.test_passwords import LINK, mails
from tests.plugins.sample_types import BillingSamplePlugin
from tests.support import World

PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")
API_DOCS = re.compile(r"^/schema(/(swagger|redoc|rapidoc|elements|oauth2-redirect\.html))?$")
"""Litestar's API viewers: third-party pages from CDNs with an inline starter script (their own policy)."""
TOKEN_PATHS = ("/password/", "/password-reset/")


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [BillingSamplePlugin()]


def values(portal: Portal, world: World) -> dict[str, str]:
    """A real value for every path parameter of the app: a request with a file and charges, a price list …"""
    price_list = seed_prices(portal)
    agreement = seed_agreement(portal, world.org)
    from core.workflow import actions as workflow

    filed = workflow.file(portal, world.admin, "sample_billable", {"tags": 2}, None)
    message = chat.post(portal, world.admin, filed.id or 0, "Bild", files=staged(portal, ("a.pdf", files.pdf())))
    complete(portal, world.staff, filed.id or 0)
    charge = charges(portal, filed.id)[0]
    attachment_id = chat_attachment_id(portal, message.id)
    passwords.request_reset(portal, world.member.email)
    stranger = reply(portal, filed, "okand@example.org", "Hej")
    intake.receive(portal, stranger)
    token_for(portal, world.admin)
    Pulse(portal)()  # the relay's heartbeat, as on a running installation: /readyz answers 200
    outbox.drain(portal)  # the mails are written to the mail folder: the development mail page shows them
    mail = sorted((portal.settings.data_dir / "mail").glob("*.eml"))[0]
    link = LINK.search("\n".join(mails(portal)))
    assert link is not None
    with portal.database.reading() as s:
        mail_id = s.exec(select(InboundMail.id)).first()
        job_id = s.exec(select(OutboxMessage.id).order_by(col(OutboxMessage.id))).first()
        token_id = s.exec(select(ApiToken.id)).first()
    return {
        "request_id": str(filed.id),
        "attachment_id": str(attachment_id),
        "type_key": "fault_report",
        "key": "fault_report",
        "action": "take",
        "user_id": str(world.member.id),
        "organisation_id": str(world.org.id),
        "charge_id": str(charge.id),
        "month": "2026-11",
        "list_id": str(price_list.id),
        "agreement_id": str(agreement.id),
        "job_id": str(job_id),
        "mail_id": str(mail_id),
        "token_id": str(token_id),
        "token": link.group(1),
        "name": mail.stem,
        "file_path": "app.js",
        "path": "openapi.json",
    }


def chat_attachment_id(portal: Portal, message_id: int | None) -> int:
    from core.models import Attachment

    with portal.database.reading() as s:
        found = s.exec(select(Attachment.id).where(Attachment.message_id == message_id)).first()
    assert found is not None
    return found


def routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                found.extend((method, route.path) for method in handler.http_methods & {"GET", "POST"})
    # Logging out last: every other answer is seen as the logged-in user.
    return sorted(found, key=lambda item: (item[1] == "/logout", item[1], item[0]))


def role(path: str) -> str:
    if path.startswith(("/admin", "/dev", "/api/v1/invoice-basis")):
        return "staff_admin"
    if path.startswith("/staff") or re.match(r"^/api/v1/(queue|requests/\{[^}]+\}/(\{action|charges/))", path):
        return "staff"
    if path.startswith(("/login", "/password", "/static", "/schema")):
        return "anonymous"
    return "customer"


def problems_with(path: str, response: Any, *, logged_in: bool) -> list[str]:
    headers = response.headers
    found = []
    policy = headers.get("content-security-policy", "")
    script_src = re.search(r"(?:^|;)\s*(script-src|default-src)[^;]*", policy)
    if "frame-ancestors 'none'" not in policy:
        found.append(f"content-security-policy without frame-ancestors 'none': {policy!r}")
    if not API_DOCS.match(path) and (script_src is None or "unsafe-inline" in script_src.group(0)):
        found.append(f"scripts not limited to our own files: {policy!r}")
    if headers.get("x-content-type-options") != "nosniff":
        found.append("no X-Content-Type-Options: nosniff")
    expected_referrer = "no-referrer" if path.startswith(TOKEN_PATHS) and "forgot" not in path else None
    referrer = headers.get("referrer-policy")
    if not referrer or (expected_referrer and referrer != expected_referrer):
        found.append(f"Referrer-Policy {referrer!r}")
    if "camera=()" not in headers.get("permissions-policy", ""):
        found.append("no Permissions-Policy")
    downloads = "/attachments/" in path or path.endswith("/csv")
    if logged_in and not path.startswith("/static") and not downloads and headers.get("cache-control") != "no-store":
        found.append(f"Cache-Control {headers.get('cache-control')!r} on an answer for a logged-in user")
    if "strict-transport-security" in headers:
        found.append("HSTS on an http installation")
    return found


def test_every_route_answers_with_the_security_headers(
    portal: Portal, world: World, app: Litestar, make_web: Any
) -> None:
    filled = values(portal, world)
    clients = {"anonymous": make_web(), "customer": make_web(), "staff": make_web(), "staff_admin": make_web()}
    clients["customer"].login(world.admin.email)
    clients["staff"].login(world.staff.email)
    clients["staff_admin"].login(world.staff_admin.email)
    tokens = {"customer": token_for(portal, world.admin), "staff": token_for(portal, world.staff)}
    tokens["staff_admin"] = token_for(portal, world.staff_admin)
    portal.settings.metrics_token = "metrics-" + "t" * 30  # /metrics exists only with a token, and needs it
    walked, failures, statuses = 0, [], {}
    for method, template in routes(app):
        missing = {name for name in PARAMETER.findall(template) if name not in filled}
        assert not missing, f"{template}: give the walk a real value for {missing}"
        path = PARAMETER.sub(lambda m: filled[m.group(1)], template)
        who = role(template)
        client = clients[who]
        api = template.startswith("/api/")
        headers = tokens[who] if api and who in tokens else {}
        if template == "/metrics":
            headers = {"authorization": f"Bearer {portal.settings.metrics_token}"}
        if method == "GET":
            response = client.client.get(path, headers=headers, follow_redirects=False)
        elif api:
            response = client.client.post(path, headers=headers, json={})
        else:
            response = client.post(path, {}, follow_redirects=False)
        walked += 1
        statuses[f"{method} {template}"] = response.status_code
        if response.status_code >= 500:
            failures.append(f"{method} {path}: {response.status_code}")
        failures.extend(
            f"{method} {path}: {problem}" for problem in problems_with(template, response, logged_in=who != "anonymous")
        )
    assert not failures, "\n".join(failures)
    assert walked > 100
    # The walk reaches the real pages, not only log-in redirects and 404s.
    gets = {k: v for k, v in statuses.items() if k.startswith("GET ")}
    assert sum(1 for v in gets.values() if v == 200) >= len(gets) - 2, {k: v for k, v in gets.items() if v != 200}


def test_unknown_paths_redirects_and_errors_carry_them_too(world: World, make_web: Any) -> None:
    web = make_web()
    for response in (
        web.client.get("/no/such/page"),
        web.client.get("/requests", follow_redirects=False),
        web.client.put("/login"),
        web.client.get("/static/app.js"),
    ):
        assert problems_with("/x", response, logged_in=False) == [], response.status_code
    web.login(world.member.email)
    assert web.get("/requests").headers["cache-control"] == "no-store"


@pytest.fixture
def https_settings(test_settings: Any) -> Any:
    test_settings.base_url = "https://portal.example"
    return test_settings


def test_https_installations_send_hsts_and_only_secure_cookies(
    https_settings: Any, database: Any, clock: Any, world: World, tmp_path: Path
) -> None:
    from litestar.testing import TestClient

    from core.portal import build_portal
    from core.testing.web import WebClient
    from core.web.app import create_app

    portal = build_portal(https_settings, database=database, clock=clock)
    with TestClient(create_app(portal), base_url=BASE_URL) as client:
        web = WebClient(client)
        page = web.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        logged_in = web.login(world.member.email)
        cookies = [v for k, v in logged_in.headers.multi_items() if k == "set-cookie"] + page.headers.get_list(
            "set-cookie"
        )
        assert cookies and all("secure" in c.lower() for c in cookies), cookies
