"""Log-in, sessions, throttling, roles and tokens on the profile page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from core.accounts import administration, auth, throttle
from core.models import ApiToken, WebSession
from core.platform.errors import Throttled
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


def wrong(web: Any, email: str) -> Any:
    return web.post("/login", {"email": email, "password": "wrong-password"})


def advance(portal: Portal, **delta: float) -> None:
    portal.clock.advance(timedelta(**delta))  # type: ignore[attr-defined]


def test_a_guesser_waits_longer_after_each_failure(portal: Portal, world: World, web: Any) -> None:
    web.get("/login")
    for _ in range(portal.settings.login_attempts_per_account):  # the allowance: answered at once
        assert "E-postadressen eller lösenordet är fel." in wrong(web, world.member.email).text
    for wait in (1, 2, 4, 8):  # then every try waits twice as long as the one before
        refused = web.post("/login", {"email": world.member.email, "password": "correct-horse-battery"})
        assert refused.status_code == 401
        assert f"För många misslyckade försök. Vänta {wait} sekunder och försök igen." in refused.text
        assert "Eller välj ett nytt lösenord med ”Glömt lösenord?”." in refused.text
        advance(portal, seconds=wait)
        assert "lösenordet är fel" in wrong(web, world.member.email).text  # checked again, and wrong
    advance(portal, seconds=16)
    assert web.login(world.member.email).status_code == 302  # the right password after the wait: in


def test_the_longest_wait_is_the_setting_and_nothing_locks_for_longer(portal: Portal, world: World, web: Any) -> None:
    with portal.database.writing() as s:  # 60 failures, as a guesser who waited out every wait would have
        for _ in range(60):
            throttle.record_failure(s, throttle.Keys.of(world.member.email, "testclient"), now=portal.clock.now())
    refused = web.login(world.member.email)
    assert refused.status_code == 401 and "Vänta 900 sekunder" in refused.text  # 15 minutes, not 2^55 s
    advance(portal, minutes=portal.settings.login_throttle_minutes, seconds=1)
    assert web.login(world.member.email).status_code == 302


def policy(portal: Portal) -> Any:
    settings = portal.settings
    return auth.LoginPolicy.of(settings)


def test_someone_elses_failures_never_keep_the_owner_out_of_their_own_browser(
    portal: Portal, world: World, make_web: Any
) -> None:
    owner = make_web()
    assert owner.login(world.member.email).status_code == 302  # the owner's browser gets its device cookie
    owner.post("/logout", {})
    slowed = 0
    for number in range(40):  # a guesser with many addresses tries the owner's account
        try:
            with portal.database.writing() as s:
                address = f"198.51.100.{number}"
                found = auth.authenticate(
                    s, world.member.email, f"guess-{number}", address, clock=portal.clock, policy=policy(portal)
                )
                assert found is None
        except Throttled:
            slowed += 1
    assert slowed == 40 - portal.settings.login_attempts_per_account  # new addresses do not reset the account's wait
    stranger = make_web()  # a browser the owner never used: it waits like the guesser
    refused = stranger.login(world.member.email)
    assert refused.status_code == 401 and "För många misslyckade försök" in refused.text
    forged = make_web()
    forged.client.cookies.set(throttle.DEVICE_COOKIE, "abc.1.bad")
    assert forged.login(world.member.email).status_code == 401  # a made-up device cookie counts for nothing
    other_users = make_web()
    other_users.login(world.admin.email)  # a device cookie is for its own account only
    assert other_users.login(world.member.email).status_code == 401
    assert owner.login(world.member.email).status_code == 302  # the owner's own browser: straight in


def test_one_address_trying_many_accounts_waits(portal: Portal, world: World, web: Any) -> None:
    web.get("/login")
    for number in range(portal.settings.login_attempts_per_address):
        wrong(web, f"guess{number}@example.se")
    blocked = web.post("/login", {"email": world.admin.email, "password": "correct-horse-battery"})
    assert blocked.status_code == 401 and "Vänta 1 sekunder" in blocked.text
    advance(portal, seconds=1)
    assert web.login(world.admin.email).status_code == 302


def test_the_wait_grows_and_is_capped() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    longest = timedelta(minutes=15)

    @given(st.integers(0, 10_000), st.integers(0, 50))
    def grows(failures: int, free: int) -> None:
        now, after = throttle.wait_after(failures, free, longest), throttle.wait_after(failures + 1, free, longest)
        assert timedelta(0) <= now <= after <= longest
        assert (now == timedelta(0)) == (failures < free)

    grows()


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


def test_a_token_cannot_mint_tokens_and_each_person_has_a_limited_number(
    portal: Portal, world: World, web: Any
) -> None:
    import re

    web.login(world.member.email)
    made = re.search(r'id="new-token">([^<]+)<', web.post("/profile/tokens", {"name": "Skript"}).text)
    assert made is not None
    token = made.group(1)
    minted = web.client.post("/profile/tokens", data={"name": "Fler"}, headers={"authorization": f"Bearer {token}"})
    assert minted.status_code == 403
    for number in range(auth.MAX_API_TOKENS - 1):
        assert web.post("/profile/tokens", {"name": f"Skript {number}"}).status_code == 200
    refused = web.post("/profile/tokens", {"name": "En för mycket"})
    assert refused.status_code == 409 and 'id="new-token"' not in refused.text
    assert f"Ni har {auth.MAX_API_TOKENS} aktiva API-nycklar" in refused.text
    with portal.database.reading() as s:
        first = s.exec(select(ApiToken).order_by(ApiToken.id)).first()  # type: ignore[arg-type]
    assert first is not None
    web.post(f"/profile/tokens/{first.id}/revoke")  # revoking one makes room for one
    assert 'id="new-token"' in web.post("/profile/tokens", {"name": "Ny"}).text


def test_every_user_changes_their_password_on_the_profile_page(portal: Portal, world: World, make_web: Any) -> None:
    laptop, phone = make_web(), make_web()
    laptop.login(world.staff.email)
    phone.login(world.staff.email)
    assert 'action="/profile/password"' in laptop.get("/profile").text
    change = {"current_password": "correct-horse-battery", "new_password": "ett-nytt-langt-losenord"}
    wrong = laptop.post("/profile/password", {**change, "current_password": "fel", "repeated_password": "x"})
    assert wrong.status_code == 422 and "Det nuvarande lösenordet är fel." in wrong.text
    assert "Lösenorden är inte likadana." in wrong.text and 'id="current_password-error"' in wrong.text
    short = laptop.post("/profile/password", {**change, "new_password": "kort", "repeated_password": "kort"})
    assert short.status_code == 422 and "Använd minst 10 tecken." in short.text
    done = laptop.post(
        "/profile/password", {**change, "repeated_password": change["new_password"]}, follow_redirects=False
    )
    assert done.status_code == 302 and done.headers["location"].startswith("/profile?notice=password_changed")
    assert laptop.get("/staff/queue").status_code == 200  # this browser stays logged in, with a new session
    assert phone.get("/staff/queue", follow_redirects=False).status_code == 302  # every other session ended
    fresh = make_web()
    assert fresh.login(world.staff.email).status_code == 401  # the old password is gone
    assert fresh.login(world.staff.email, change["new_password"]).status_code == 302


def test_switching_language_stays_on_the_page(world: World, web: Any) -> None:
    import re

    web.login(world.member.email)
    page = web.get("/requests?status=pending").text
    found = re.search(r'name="next" value="([^"]*)"', page.split('class="inline language-switch"', 1)[1])
    assert found is not None and found.group(1) == "/requests?status=pending"
    switched = web.post("/language", {"language": "en", "next": found.group(1)}, follow_redirects=False)
    assert switched.headers["location"] == "/requests?status=pending"
    missing = web.get("/no-such-page")  # an error page offers the switch too, back to the start
    assert missing.status_code == 404 and 'name="next" value="/"' in missing.text


def test_language_choice_is_kept_per_user(world: World, web: Any) -> None:
    web.login(world.member.email)
    assert "Våra ärenden" in web.get("/requests").text
    web.post("/language", {"language": "en", "next": "/requests"})
    page = web.get("/requests")
    assert "Our requests" in page.text and 'lang="en"' in page.text
