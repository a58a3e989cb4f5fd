"""A customer sees and touches only their organisation's requests: another's id is a 404 on every route.

Routes are discovered from the application, so a route added later is walked without editing this test.
"""

from __future__ import annotations

import io
import re
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlmodel import select

from core.accounts.auth import create_api_token
from core.conversation import chat
from core.models import Attachment
from core.portal import Portal
from core.requests.attachments import Upload, stage_all
from core.workflow import actions as workflow
from tests.files import pdf
from tests.support import World

PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


def request_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, path) for every route that takes a request id."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "{request_id" not in route.path:
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                found.append((method, route.path))
    return sorted(found)


def fill(path: str, request_id: int, attachment_id: int = 0) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "request_id":
            return str(request_id)
        if name == "attachment_id":
            return str(attachment_id)
        if name == "action":
            return "take"
        return "x"

    return PARAMETER.sub(value, path)


def test_the_walk_covers_customer_staff_and_api_routes(app: Litestar) -> None:
    paths = {path for _method, path in request_routes(app)}
    assert any(p.startswith("/requests/") for p in paths)
    assert any(p.startswith("/api/v1/requests/") for p in paths)
    assert any(p.startswith("/staff/requests/") for p in paths)
    assert {"/requests/{request_id:int}/attachments/{attachment_id:int}"} <= paths
    assert "/api/v1/requests/{request_id:int}/attachments/{attachment_id:int}" in paths


def foreign_with_a_file(portal: Portal, world: World) -> tuple[int, int]:
    """Another organisation's request with a file on it: the ids a customer must never reach."""
    foreign = workflow.file(portal, world.outsider, "fault_report", world.fault(system_id=world.other_system.id), None)
    staged = stage_all(portal.storage, [Upload("deras.pdf", io.BytesIO(pdf()))], field="files", max_bytes=10**6)
    message = chat.post(portal, world.outsider, foreign.id or 0, "Deras protokoll", files=staged)
    with portal.database.reading() as session:
        row = session.exec(select(Attachment).where(Attachment.message_id == message.id)).one()
    return foreign.id or 0, row.id or 0


def test_foreign_request_is_404_on_every_customer_route(portal: Portal, world: World, app: Litestar, web: Any) -> None:
    foreign_id, foreign_file = foreign_with_a_file(portal, world)
    own = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    web.login(world.member.email)
    checked = 0
    for method, path in request_routes(app):
        url = fill(path, foreign_id, foreign_file)
        if method == "GET":
            response = web.get(url)
        else:
            response = (
                web.post(url, {"reason": "x"})
                if not url.startswith("/api/")
                else web.client.post(url, json={}, headers={"x-csrf-token": web._csrf})
            )
        assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
        assert "Annan AB" not in response.text and "Deras protokoll" not in response.text
        assert "deras.pdf" not in response.text and response.content != pdf()
        checked += 1
    assert checked >= 8
    # The same routes do work for the customer's own request (so the 404s above are not accidental).
    assert web.get(f"/requests/{own.id}").status_code == 200
    # A foreign file asked for through the customer's own request is just as unknown.
    for path in ("/requests/{request_id:int}/attachments/{attachment_id:int}",
                 "/api/v1/requests/{request_id:int}/attachments/{attachment_id:int}"):  # fmt: skip
        assert web.get(fill(path, own.id or 0, foreign_file)).status_code == 404
    # A message with a file for a foreign request is refused before the file is stored.
    before = sorted(portal.settings.resolved_storage_dir.rglob("*"))
    response = web.post(f"/requests/{foreign_id}/messages", {"body": "x"}, files=[("files", ("a.pdf", pdf(), "x/y"))])
    assert response.status_code == 404 and sorted(portal.settings.resolved_storage_dir.rglob("*")) == before


def test_foreign_request_is_404_through_the_api_with_a_token(
    portal: Portal, world: World, app: Litestar, web: Any
) -> None:
    foreign_id, foreign_file = foreign_with_a_file(portal, world)
    with portal.database.writing() as s:
        token = create_api_token(s, world.member, "test", secret_key=portal.secret_key, clock=portal.clock)
    headers = {"authorization": f"Bearer {token}"}
    for method, path in request_routes(app):
        if not path.startswith("/api/"):
            continue
        url = fill(path, foreign_id, foreign_file)
        response = web.client.request(method, url, headers=headers, json={} if method != "GET" else None)
        assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
    listing = web.client.get("/api/v1/requests", headers=headers).json()
    assert all(item["organisation_id"] == world.org.id for item in listing["items"])
