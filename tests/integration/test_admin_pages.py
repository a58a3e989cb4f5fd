"""Staff administration: offices, stores, organisations with systems and users, staff; with validation."""

from __future__ import annotations

import re
from typing import Any

from core.portal import Portal
from tests.support import PASSWORD, World


def test_organisation_needs_an_office_and_a_unique_name(world: World, web: Any) -> None:
    web.login(world.staff_admin.email)
    missing = web.post("/admin/organisations", {"name": "Ny Brf", "office_id": ""})
    assert missing.status_code == 422 and "Välj organisationens lokalkontor." in missing.text
    duplicate = web.post("/admin/organisations", {"name": "brf testet", "office_id": str(world.org.office_id)})
    assert duplicate.status_code == 422
    created = web.post(
        "/admin/organisations", {"name": "Ny Brf", "office_id": str(world.org.office_id)}, follow_redirects=False
    )
    assert created.status_code == 302


def test_first_user_of_an_organisation_is_its_administrator(portal: Portal, world: World, web: Any) -> None:
    web.login(world.staff_admin.email)
    created = web.post(
        "/admin/organisations", {"name": "Ny Brf", "office_id": str(world.org.office_id)}, follow_redirects=False
    )
    org_url = created.headers["location"].split("?")[0]
    web.post(f"{org_url}/systems", {"name": "Passersystem Ny", "kind": "access_control"})
    web.post(
        f"{org_url}/users",
        {"name": "Första", "email": "forsta@ny.example", "password": PASSWORD, "role": "member", "language": "sv"},
    )
    web.post(
        f"{org_url}/users",
        {"name": "Andra", "email": "andra@ny.example", "password": PASSWORD, "role": "member", "language": "sv"},
    )
    page = web.get(org_url).text
    assert "Passersystem Ny" in page
    assert re.search(r"Första</td><td>forsta@ny.example</td><td>Administratör", page)
    assert re.search(r"Andra</td><td>andra@ny.example</td><td>Medlem", page)


def test_user_validation(world: World, web: Any) -> None:
    web.login(world.staff_admin.email)
    url = f"/admin/organisations/{world.org.id}/users"
    duplicate = web.post(url, {"name": "X", "email": world.member.email.upper(), "password": PASSWORD})
    assert duplicate.status_code == 422 and "finns redan" in duplicate.text
    short = web.post(url, {"name": "X", "email": "x@testet.example", "password": "kort"})
    assert short.status_code == 422 and "minst 10 tecken" in short.text
    bad = web.post(url, {"name": "X", "email": "inte-en-adress", "password": PASSWORD})
    assert bad.status_code == 422 and "giltig e-postadress" in bad.text


def test_deactivate_with_confirmation(world: World, make_web: Any) -> None:
    admin, member = make_web(), make_web()
    member.login(world.member.email)
    admin.login(world.staff_admin.email)
    assert "Inaktivera" in admin.get(f"/admin/users/{world.member.id}/deactivate").text
    admin.post(f"/admin/users/{world.member.id}/deactivate")
    assert member.get("/requests", follow_redirects=False).status_code == 302


def test_offices_stores_and_staff(world: World, web: Any) -> None:
    web.login(world.staff_admin.email)
    assert web.post("/admin/offices", {"name": "", "email": "x", "phone": ""}).status_code == 422
    assert (
        web.post(
            "/admin/offices",
            {"name": "Kontor Malmö", "email": "malmo@bbgruppen.example", "phone": "040-123456"},
            follow_redirects=True,
        ).status_code
        == 200
    )
    assert "Kontor Malmö" in web.get("/admin/offices").text
    assert (
        web.post("/admin/stores", {"name": "Butik Malmö", "address": "Stortorget 1"}, follow_redirects=True).status_code
        == 200
    )
    assert "Butik Malmö" in web.get("/admin/stores").text
    web.post(
        "/admin/staff",
        {"name": "Ny Handläggare", "email": "ny@bbgruppen.example", "password": PASSWORD, "role": "handlaggare"},
    )
    assert "Ny Handläggare" in web.get("/admin/staff").text
