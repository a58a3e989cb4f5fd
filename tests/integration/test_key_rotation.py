"""Rotating the secret key: what the old key signed keeps working while it is a fallback, what is new is signed
with the current key, and everything the old key alone signed stops working once it is dropped.

Each kind: sessions, API tokens, CSRF tokens, the device cookie, reply addresses, thread ids and Message-IDs
in customers' mailboxes, and one-time links (password links of the core and of the password-reset plugin).
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import pytest
from sqlmodel import select

from core.accounts import auth, passwords, throttle
from core.conversation.intake import read
from core.mail import MailJob, reply_tokens
from core.models import ApiToken, PasswordToken, User, WebSession
from core.platform.errors import ConfigurationError
from core.platform.settings import Settings
from core.platform.signing import SecretKeys, digest
from core.portal import Portal
from core.testing.web import CSRF, WebClient
from core.workflow import actions as workflow
from plugins.password_reset import links
from tests.support import World

OLD = "old-secret-" + "o" * 40
NEW = "new-secret-" + "n" * 40


@pytest.fixture
def test_settings(test_settings: Settings) -> Settings:
    test_settings.secret_key = OLD
    return test_settings


def rotate(portal: Portal) -> None:
    """The operator's rotation: a new key, the old one kept as a fallback."""
    portal.settings.secret_key = NEW
    portal.settings.secret_key_fallbacks = [OLD]


def drop_old(portal: Portal) -> None:
    """The end of the rotation: the old key removed from the fallbacks."""
    portal.settings.secret_key_fallbacks = []


def logged_in(web: WebClient) -> bool:
    return web.client.get("/profile", follow_redirects=False).status_code == 200


# --- sessions ------------------------------------------------------------------------------------------------------


def test_a_session_in_use_outlives_the_old_key_and_an_idle_one_does_not(
    portal: Portal, world: World, make_web: Any
) -> None:
    active, idle = make_web(), make_web()
    active.login(world.member.email)
    idle.login(world.staff.email)
    rotate(portal)
    assert logged_in(active)  # found under the fallback key …
    with portal.database.reading() as session:
        token = active.client.cookies["bb_session"]
        stored = session.exec(select(WebSession).where(WebSession.user_id == world.member.id)).one()
    assert stored.token_digest == digest(NEW, token)  # … and stored again under the current key
    drop_old(portal)
    assert logged_in(active)
    assert not logged_in(idle)  # never used during the rotation: only the dropped key knew it


def test_logging_out_during_a_rotation_ends_a_session_of_the_old_key(
    portal: Portal, world: World, make_web: Any
) -> None:
    web = make_web()
    web.login(world.member.email)
    token = web.client.cookies["bb_session"]
    rotate(portal)
    with portal.database.writing() as session:
        auth.end_session(session, token, secret_key=portal.secret_keys)
    with portal.database.reading() as session:
        assert session.exec(select(WebSession).where(WebSession.user_id == world.member.id)).all() == []


# --- API tokens ----------------------------------------------------------------------------------------------------


def test_an_api_token_in_use_outlives_the_old_key_and_an_unused_one_does_not(
    portal: Portal, world: World, web: Any
) -> None:
    with portal.database.writing() as session:
        used = auth.create_api_token(session, world.member, "script", secret_key=portal.secret_key, clock=portal.clock)
        unused = auth.create_api_token(session, world.member, "old", secret_key=portal.secret_key, clock=portal.clock)

    def status(token: str) -> int:
        return int(web.client.get("/api/v1/requests", headers={"authorization": f"Bearer {token}"}).status_code)

    rotate(portal)
    assert status(used) == 200
    with portal.database.reading() as session:
        digests = set(session.exec(select(ApiToken.digest)))
    assert digest(NEW, used) in digests and digest(OLD, unused) in digests
    drop_old(portal)
    assert status(used) == 200
    assert status(unused) == 401


# --- CSRF and the device cookie ----------------------------------------------------------------------------------


def test_a_form_rendered_before_the_rotation_still_posts_until_the_old_key_is_dropped(
    portal: Portal, world: World, web: WebClient
) -> None:
    web.login(world.member.email)
    page = web.get("/profile")
    old_form = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    rotate(portal)

    def post_language(token: str) -> int:
        answer = web.client.post("/language", data={"_csrf": token, "language": "sv"}, follow_redirects=False)
        return int(answer.status_code)

    assert post_language(old_form) in (302, 303)
    new_form = CSRF.search(web.get("/profile").text).group(1)  # type: ignore[union-attr]
    assert new_form != old_form and new_form == auth.csrf_token(NEW, web.client.cookies["bb_session"])
    drop_old(portal)
    assert post_language(old_form) == 403
    assert post_language(new_form) in (302, 303)


def test_the_device_cookie_is_known_through_the_rotation_and_renewed_at_log_in(
    portal: Portal, world: World, web: WebClient
) -> None:
    user_id = world.member.id or 0
    old_cookie = throttle.device_token(OLD, user_id)
    rotate(portal)
    assert throttle.is_known_device(portal.secret_keys, old_cookie, user_id)
    web.client.cookies.set(throttle.DEVICE_COOKIE, old_cookie, domain="testserver.local")
    web.login(world.member.email)
    renewed = web.client.cookies[throttle.DEVICE_COOKIE]
    assert renewed != old_cookie and throttle.is_known_device(NEW, renewed, user_id)
    drop_old(portal)
    assert not throttle.is_known_device(portal.secret_keys, old_cookie, user_id)
    assert throttle.is_known_device(portal.secret_keys, renewed, user_id)


# --- mail: reply addresses, thread ids, Message-IDs -------------------------------------------------------------


def test_reply_addresses_and_message_ids_already_in_mailboxes(portal: Portal, world: World) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    request_id, user_id = filed.id or 0, world.member.id or 0
    domain = portal.settings.reply_domain

    def answer(**headers: str) -> Any:
        message = EmailMessage()
        message["From"] = world.member.email
        message["Subject"] = "SV: ditt ärende"
        message["Message-ID"] = "<reply-1@kund.example>"
        for name, value in headers.items():
            message[name.replace("_", "-")] = value
        message.set_content("Det gäller dörren i källaren.")
        return read(bytes(message), portal.settings, portal.secret_keys)

    old_address = reply_tokens.address(OLD, domain, request_id, user_id)
    old_thread = f"<request.{request_id}.{reply_tokens.thread_signature(OLD, request_id)}@{domain}>"
    old_message_id = reply_tokens.message_id(OLD, domain, f"mail:1:{user_id}", user_id)
    rotate(portal)
    assert answer(To=old_address).request_id == request_id
    assert answer(To=f"portal@{domain}", In_Reply_To=old_thread).request_id == request_id
    assert reply_tokens.recipients_in_message_ids(portal.secret_keys, old_message_id) == [user_id]
    new_address = reply_tokens.address(portal.secret_key, domain, request_id, user_id)
    assert new_address != old_address and reply_tokens.parse(NEW, new_address[5:].split("@")[0]) == (
        request_id,
        user_id,
    )
    drop_old(portal)
    refused = answer(To=old_address)
    assert refused.request_id is None and refused.how != "reply address"
    assert answer(To=f"portal@{domain}", In_Reply_To=old_thread).request_id is None
    assert reply_tokens.recipients_in_message_ids(portal.secret_keys, old_message_id) == []
    assert answer(To=new_address).request_id == request_id


def mail_job(portal: Portal, session: Any, token_id: int) -> MailJob:
    """The password mail's job as the mail service builds it when it sends the mail."""
    return MailJob(portal, session, "invitation", None, None, {"token_id": token_id})  # type: ignore[arg-type]


# --- one-time links --------------------------------------------------------------------------------------------------


def test_a_password_link_mailed_before_the_rotation_works_until_the_old_key_is_dropped(
    portal: Portal, world: World, web: WebClient
) -> None:
    with portal.database.writing() as session:
        user = session.get(User, world.member.id)
        assert user is not None
        row = passwords.invite(session, portal, user)
    old_token = passwords.token_for(OLD, row)
    rotate(portal)
    assert web.get(f"/password/{old_token}").status_code == 200
    with portal.database.reading() as session:
        stored = session.get(PasswordToken, row.id)
        assert stored is not None
        # The mail sent now (a retry, or one queued just before the rotation) carries the token it was issued with.
        job = mail_job(portal, session, row.id or 0)
        values = passwords.link_values(job)
    assert values is not None and values["link"].endswith(f"/password/{old_token}")
    drop_old(portal)
    with portal.database.reading() as session:
        assert passwords.valid_token(session, portal, old_token) is None
        job = mail_job(portal, session, row.id or 0)
        assert passwords.link_values(job) is None  # a link nobody can open is not mailed
    page = web.get(f"/password/{old_token}")
    assert page.status_code != 200 or 'name="password"' not in page.text


def test_a_service_password_link_of_the_plugin_follows_the_rotation(portal: Portal, world: World) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    with portal.database.writing() as session:
        link = links.issue(
            session,
            portal,
            request_id=filed.id or 0,
            system_id=world.system.id or 0,
            service="svc",
            username="door-admin",
            email="it@kund.example",
        )
    old_token = links.token_for(OLD, link)
    rotate(portal)
    with portal.database.reading() as session:
        found = links.find(session, portal, old_token)
    assert found is not None and found.id == link.id
    drop_old(portal)
    with portal.database.reading() as session:
        assert links.find(session, portal, old_token) is None


# --- the settings --------------------------------------------------------------------------------------------------


def test_fallbacks_are_read_as_a_list_and_the_current_key_is_never_its_own_fallback(tmp_path: Any) -> None:
    def settings(value: str) -> Settings:
        return Settings(data_dir=tmp_path, secret_key=NEW, secret_key_fallbacks=value, _env_file=None)  # type: ignore[call-arg]

    assert settings(f"{OLD}, other-key ,").secret_keys == SecretKeys(NEW, (OLD, "other-key"))
    assert settings(f'["{OLD}"]').secret_keys == SecretKeys(NEW, (OLD,))
    assert settings(f"{NEW},{OLD},{OLD}").secret_keys == SecretKeys(NEW, (OLD,))
    assert settings("").secret_keys == SecretKeys(NEW, ())


def test_production_refuses_a_weak_fallback(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BBPORTAL_SECRET_KEY_FALLBACKS", "secret")
    strong = "k3J9x" + "aB7qP2mZ8rT4wY6v" * 3
    production = Settings(
        data_dir=tmp_path,
        secret_key=strong,
        production=True,
        database_url="postgresql+psycopg://portal@db/portal",
        _env_file=None,
    )  # type: ignore[call-arg]
    assert production.secret_key_fallbacks == ["secret"]
    with pytest.raises(ConfigurationError, match="SECRET_KEY_FALLBACKS is too weak"):
        production.check_production()
    monkeypatch.setenv("BBPORTAL_SECRET_KEY_FALLBACKS", strong[::-1])
    Settings(
        data_dir=tmp_path,
        secret_key=strong,
        production=True,
        database_url="postgresql+psycopg://portal@db/portal",
        _env_file=None,
    ).check_production()  # type: ignore[call-arg]


def test_nothing_signed_names_the_key(portal: Portal) -> None:
    """The keys never appear in what they sign (a token, an address): rotation cannot leak them."""
    made = [
        reply_tokens.address(OLD, "svar.example", 1, 2),
        reply_tokens.message_id(OLD, "svar.example", "mail:1:2", 2),
        throttle.device_token(OLD, 2),
    ]
    assert not any(re.search("old-secret", text) for text in made)
