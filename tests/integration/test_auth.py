"""Log-in, sessions, throttling, roles and tokens on the profile page."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from core.accounts import administration
from core.models import ApiToken, WebSession
from core.portal import Portal
from tests.support import World


def test_wrong_password_and_unknown_user_get_the_same_answer(world: World, web: Any) -> None:
    web.get("/login")
    wrong = web.post("/login", {"email": world.member.email, "password": "nope-nope-nope"})
    unknown = web.post("/login", {"email": "nobody@nowhere.example", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "E-postadressen eller lösenordet är fel." in wrong.text
    assert "E-postadressen eller lösenordet är fel." in unknown.text


def test_email_is_case_insensitive_and_pages_need_login(world: World, web: Any) -> None:
    assert web.get("/requests", follow_redirects=False).headers["location"].startswith("/login?next=/requests")
    response = web.login(world.member.email.upper())
    assert response.status_code == 302
    assert web.get("/requests").status_code == 200


def test_session_cookie_is_httponly_samesite_and_rotated(world: World, web: Any) -> None:
    web.login(world.member.email)
    first = web.client.cookies.get("bb_session")
    response = web.login(world.member.email)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert web.client.cookies.get("bb_session") != first


def test_logout_ends_the_session_on_the_server(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    token = web.client.cookies.get("bb_session")
    web.post("/logout")
    web.client.cookies.set("bb_session", token)
    assert web.get("/requests", follow_redirects=False).status_code == 302
    with portal.database.reading() as s:
        assert list(s.exec(select(WebSession))) == []


def test_deactivating_a_user_ends_all_their_sessions(portal: Portal, world: World, make_web: Any) -> None:
    laptop, phone = make_web(), make_web()
    laptop.login(world.member.email)
    phone.login(world.member.email)
    with portal.database.writing() as s:
        administration.deactivate_user(s, world.member.id or 0, clock=portal.clock)
    for client in (laptop, phone):
        assert client.get("/requests", follow_redirects=False).status_code == 302
    assert laptop.login(world.member.email).status_code == 401


def test_throttling_per_account(portal: Portal, world: World, web: Any) -> None:
    web.get("/login")
    for _ in range(portal.settings.login_attempts_per_account):
        web.post("/login", {"email": world.member.email, "password": "wrong-password"})
    blocked = web.post("/login", {"email": world.member.email, "password": "correct-horse-battery"})
    assert blocked.status_code == 401 and "För många misslyckade försök" in blocked.text
    from datetime import timedelta

    portal.clock.advance(timedelta(minutes=portal.settings.login_throttle_minutes + 1))  # type: ignore[attr-defined]
    assert web.login(world.member.email).status_code == 302


def test_throttling_per_client_address(portal: Portal, world: World, web: Any) -> None:
    web.get("/login")
    for number in range(portal.settings.login_attempts_per_address):
        web.post("/login", {"email": f"guess{number}@example.se", "password": "wrong-password"})
    blocked = web.post("/login", {"email": world.admin.email, "password": "correct-horse-battery"})
    assert blocked.status_code == 401 and "För många" in blocked.text


def test_forms_without_the_csrf_token_are_refused(world: World, web: Any) -> None:
    web.login(world.member.email)
    response = web.client.post("/requests/new/fault_report", data=world.fault())
    assert response.status_code == 403


def test_login_redirect_stays_on_this_site(world: World, web: Any) -> None:
    web.get("/login")
    response = web.post(
        "/login",
        {"email": world.member.email, "password": "correct-horse-battery", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_roles(world: World, make_web: Any) -> None:
    customer, staff, admin = make_web(), make_web(), make_web()
    customer.login(world.member.email)
    staff.login(world.staff.email)
    admin.login(world.staff_admin.email)
    assert customer.get("/staff/queue").status_code == 404
    assert customer.get("/admin/organisations").status_code == 404
    assert staff.get("/admin/organisations").status_code == 403
    assert admin.get("/admin/organisations").status_code == 200
    assert staff.get("/", follow_redirects=False).headers["location"] == "/staff/queue"
    assert staff.get("/requests/new/fault_report").status_code == 404


def test_api_token_shown_once_stored_as_digest_and_revocable(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    page = web.post("/profile/tokens", {"name": "Integration"})
    import re

    token = re.search(r'id="new-token">([^<]+)<', page.text).group(1)  # type: ignore[union-attr]
    with portal.database.reading() as s:
        stored = s.exec(select(ApiToken)).one()
    assert token not in stored.digest and len(stored.digest) == 64
    assert token not in web.get("/profile").text
    headers = {"authorization": f"Bearer {token}"}
    assert web.client.get("/api/v1/requests", headers=headers).status_code == 200
    web.post(f"/profile/tokens/{stored.id}/revoke")
    assert web.client.get("/api/v1/requests", headers=headers).status_code == 401


def test_language_choice_is_kept_per_user(world: World, web: Any) -> None:
    web.login(world.member.email)
    assert "Våra ärenden" in web.get("/requests").text
    web.post("/language", {"language": "en", "next": "/requests"})
    page = web.get("/requests")
    assert "Our requests" in page.text and 'lang="en"' in page.text
