"""An id beyond what the database can hold is "no such page" on every route, never a server error.

Routes are discovered from the application (every path with an ``:int`` parameter), walked as a staff
administrator (who may reach the most of them) and as a customer, with GET and with POST.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.support import World

INT_PARAMETER = re.compile(r"\{\w+:int\}")
HUGE = str(2**70)


def int_routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not INT_PARAMETER.search(route.path):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods & {"GET", "POST"}:
                found.append((method, INT_PARAMETER.sub(HUGE, route.path).replace("{", "").replace("}", "")))
    return sorted(found)


def test_the_walk_finds_routes(app: Litestar) -> None:
    paths = {path for _method, path in int_routes(app)}
    assert any(p.startswith("/admin/") for p in paths) and any(p.startswith("/requests/") for p in paths)


def test_huge_ids_are_never_a_server_error(world: World, app: Litestar, make_web: Any) -> None:
    admin, customer = make_web(), make_web()
    admin.login(world.staff_admin.email)
    customer.login(world.admin.email)
    failures = []
    for client in (admin, customer):
        for method, path in int_routes(app):
            path = re.sub(r"\{\w+(?::\w+)?\}", "x", path)  # any other parameter (a month, a token)
            response = client.get(path) if method == "GET" else client.post(path, {})
            if response.status_code >= 500:
                failures.append(f"{method} {path}: {response.status_code}")
    assert not failures, failures
