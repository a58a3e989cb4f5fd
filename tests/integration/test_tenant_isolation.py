"""A customer sees and touches only their organisation's requests: another's id is a 404 on every route.

Routes are discovered from the application, so a route added later is walked without editing this test.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute

from core import workflow
from core.auth import create_api_token
from core.portal import Portal
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


def fill(path: str, request_id: int) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "request_id":
            return str(request_id)
        if name == "action":
            return "take"
        return "x"

    return PARAMETER.sub(value, path)


def test_the_walk_covers_customer_staff_and_api_routes(app: Litestar) -> None:
    paths = {path for _method, path in request_routes(app)}
    assert any(p.startswith("/requests/") for p in paths)
    assert any(p.startswith("/api/v1/requests/") for p in paths)
    assert any(p.startswith("/staff/requests/") for p in paths)


def test_foreign_request_is_404_on_every_customer_route(portal: Portal, world: World, app: Litestar, web: Any) -> None:
    foreign = workflow.file(portal, world.outsider, "fault_report", world.fault(system_id=world.other_system.id), None)
    own = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    web.login(world.member.email)
    checked = 0
    for method, path in request_routes(app):
        url = fill(path, foreign.id or 0)
        if method == "GET":
            response = web.get(url)
        else:
            response = (
                web.post(url, {"reason": "x"})
                if not url.startswith("/api/")
                else web.client.post(url, json={}, headers={"x-csrf-token": web._csrf})
            )
        assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
        assert "Annan AB" not in response.text and (foreign.summary or "§") not in response.text
        checked += 1
    assert checked >= 8
    # The same routes do work for the customer's own request (so the 404s above are not accidental).
    assert web.get(f"/requests/{own.id}").status_code == 200


def test_foreign_request_is_404_through_the_api_with_a_token(
    portal: Portal, world: World, app: Litestar, web: Any
) -> None:
    foreign = workflow.file(portal, world.outsider, "fault_report", world.fault(system_id=world.other_system.id), None)
    with portal.database.writing() as s:
        token = create_api_token(s, world.member, "test", secret_key=portal.secret_key, clock=portal.clock)
    headers = {"authorization": f"Bearer {token}"}
    for method, path in request_routes(app):
        if not path.startswith("/api/"):
            continue
        url = fill(path, foreign.id or 0)
        response = web.client.request(method, url, headers=headers, json={} if method != "GET" else None)
        assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
    listing = web.client.get("/api/v1/requests", headers=headers).json()
    assert all(item["organisation_id"] == world.org.id for item in listing["items"])
