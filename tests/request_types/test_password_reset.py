"""Lösenordsåterställning: validation, the one-time link mailed to the system's address, the password shown once."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from sqlalchemy import String, Text, inspect, select, text
from sqlmodel import col
from sqlmodel import select as sql_select

from core.access_control import ServiceAccount
from core.access_control.simulator import Fault, set_fault
from core.access_control.simulator.tables import AcsServiceAccount
from core.accounts import auth
from core.models import ChatMessage, Request
from core.platform import outbox
from core.platform.errors import ValidationFailed
from core.portal import Portal
from core.requests.lifecycle import Action
from core.requests.statuses import Status
from core.testing import check_request_type, form_context
from core.workflow import actions as workflow
from plugins.password_reset import links
from plugins.password_reset.links import ServicePasswordLink
from tests.support import World

LINK = re.compile(r"http://testserver\.local(/password-reset/[A-Za-z0-9_.-]+)")


def an_account(portal: Portal, world: World) -> ServiceAccount:
    accounts = portal.access_control(world.system).service_accounts()
    return next(a for a in accounts if a.service == "Administrera Själv")


def file(portal: Portal, world: World, **changes: Any) -> Request:
    account = an_account(portal, world)
    payload = {"system_id": world.system.id, "service": account.service, "username": account.username, **changes}
    return workflow.file(portal, world.member, "password_reset", payload, None)


def refused(portal: Portal, world: World, **changes: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        file(portal, world, **changes)
    return caught.value.errors


def mails(portal: Portal) -> list[EmailMessage]:
    folder = portal.mailer.folder  # type: ignore[attr-defined]
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]  # type: ignore[misc]


def mail_to(portal: Portal, address: str) -> list[EmailMessage]:
    return [m for m in mails(portal) if m["To"] == address]


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()  # type: ignore[no-any-return]


def approve(portal: Portal, world: World, request_id: int) -> None:
    workflow.perform(portal, world.staff, request_id, Action.TAKE)
    workflow.perform(portal, world.staff, request_id, Action.CARRY_OUT)
    outbox.drain(portal)


def chat(portal: Portal, request_id: int) -> list[tuple[str, bool]]:
    with portal.database.reading() as session:
        query = sql_select(ChatMessage).where(ChatMessage.request_id == request_id).order_by(col(ChatMessage.id))
        return [(m.body, m.internal) for m in session.exec(query)]


def link_row(portal: Portal, request_id: int) -> ServicePasswordLink:
    with portal.database.reading() as session:
        found = links.link_of_request(session, request_id)
    assert found is not None
    return found


def the_password_in(page: str) -> str:
    found = re.search(r'<code id="new-password"[^>]*>([^<]+)</code>', page)
    assert found is not None, page
    return found.group(1)


def digest_of(portal: Portal, world: World, account: ServiceAccount) -> str:
    with portal.database.reading() as session:
        row = session.get(AcsServiceAccount, (world.system.id, account.service, account.username))
        assert row is not None
        return row.password_digest


# --- the form and its checks ---------------------------------------------------------------------------


def test_an_unknown_account_or_service_is_refused_on_its_field(portal: Portal, world: World) -> None:
    assert refused(portal, world, username="finns.inte") == {
        "username": ["Det valda systemet har inget konto med det användarnamnet i den valda tjänsten."]
    }
    assert refused(portal, world, service="Okänd tjänst") == {"service": ["Det valda systemet har inte den tjänsten."]}
    account = an_account(portal, world)
    file(portal, world, username=account.username.upper())  # usernames compare without regard to case


def test_another_organisation_s_system_reveals_nothing_about_its_accounts(portal: Portal, world: World) -> None:
    theirs = portal.access_control(world.other_system).service_accounts()[0]
    existing = refused(portal, world, system_id=world.other_system.id, service=theirs.service, username=theirs.username)
    missing = refused(portal, world, system_id=world.other_system.id, service=theirs.service, username="finns.inte")
    assert existing == missing == {"system_id": ["Välj ett av er organisations system."]}


def test_the_form_offers_the_services_of_the_chosen_system(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    page = web.get("/requests/new/password_reset").text
    chosen = "selected>" in page.split('name="system_id"')[1].split("</select>")[0]  # the only system: preselected
    if not chosen:
        assert 'value="Administrera Själv"' not in page and "Välj först: System." in page
        page = web.get(f"/requests/new/password_reset?system_id={world.system.id}").text
    assert "Lösenordsåterställning" in page and 'value="Administrera Själv"' in page
    response = web.post(
        "/requests/new/password_reset",
        {"system_id": str(world.system.id), "service": "Administrera Själv", "username": "finns.inte"},
    )
    assert response.status_code == 422 and 'id="f-username-error"' in response.text


def test_the_type_keeps_the_plugin_contract(portal: Portal, world: World) -> None:
    with form_context(portal, world.admin) as context:
        check_request_type(portal.registry.require("password_reset"), context, max_examples=25)


# --- the whole flow ------------------------------------------------------------------------------------


def test_the_link_goes_to_the_system_s_address_and_sets_a_password_once(
    portal: Portal, world: World, make_web: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = an_account(portal, world)
    before = digest_of(portal, world, account)
    filed = file(portal, world)
    outbox.drain(portal)
    assert not mail_to(portal, account.email)  # nothing before staff approve
    staff = make_web()
    staff.login(world.staff.email)
    staff.post(f"/staff/requests/{filed.id}/take")
    staff.post(f"/staff/requests/{filed.id}/carry_out")
    outbox.drain(portal)

    request = workflow_request(portal, filed.id or 0)
    assert request.status == Status.COMPLETED
    masked = account.email[0] + "…@" + account.email.split("@")[1]
    customer_lines = [body for body, internal in chat(portal, filed.id or 0) if not internal]
    assert customer_lines == [
        f"En länk för att sätta ett nytt lösenord för kontot {account.username} i Administrera Själv har skickats "
        f"till {masked}, den adress systemet har för kontot. Den fungerar en gång, i 24 timmar."
    ]
    [mail] = mail_to(portal, account.email)
    assert world.member.email not in str(mail["To"])
    body = text_part(mail)
    assert "Öppna länken och bekräfta" in body and "Open the link and confirm" in body  # Swedish, then English
    assert mail["Subject"] == "Nytt lösenord för Administrera Själv / New password for Administrera Själv"
    [path] = set(LINK.findall(body))
    token = path.rsplit("/", 1)[1]
    assert len(token.split(".", 1)[1]) >= 43  # 32 bytes of HMAC, URL-safe
    row = link_row(portal, filed.id or 0)
    assert row.digest == auth.digest(portal.secret_key, token) and token not in row.digest

    visitor = make_web()  # the recipient need not be a portal user
    for _ in range(2):  # a mail scanner fetching the link uses nothing up
        shown = visitor.get(path)
        assert shown.status_code == 200 and "Sätt nytt lösenord" in shown.text
        assert "no-store" in shown.headers["cache-control"] and shown.headers["referrer-policy"] == "no-referrer"
    assert link_row(portal, filed.id or 0).used_at is None
    assert digest_of(portal, world, account) == before

    done = visitor.post(path)
    assert done.status_code == 200 and "no-store" in done.headers["cache-control"]
    password = the_password_in(done.text)
    assert len(password) == links.PASSWORD_LENGTH
    assert auth.verify_password(digest_of(portal, world, account), password)
    assert link_row(portal, filed.id or 0).used_at is not None

    again = visitor.post(path)
    assert again.status_code == 410 and "Länken fungerar inte" in again.text and password not in again.text
    assert visitor.get(path).status_code == 410
    assert auth.verify_password(digest_of(portal, world, account), password)  # the second use changed nothing

    # The password is in no chat message, no mail, no log record and no table of the portal.
    assert all(password not in body for body, _internal in chat(portal, filed.id or 0))
    assert all(password not in m.as_string() for m in mails(portal))
    assert all(password not in record.getMessage() for record in caplog.records)
    assert password not in caplog.text
    assert_nowhere_in_the_database(portal, password)
    assert_nowhere_in_the_database(portal, token)


def workflow_request(portal: Portal, request_id: int) -> Request:
    with portal.database.reading() as session:
        found = session.get(Request, request_id)
        assert found is not None
        return found


def assert_nowhere_in_the_database(portal: Portal, secret: str) -> None:
    """Every text column of every table, read back and searched."""
    engine = portal.database.read_engine
    inspector = inspect(engine)
    searched = 0
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            columns = [c["name"] for c in inspector.get_columns(table) if isinstance(c["type"], String | Text)] + [
                c["name"] for c in inspector.get_columns(table) if str(c["type"]).upper() in ("JSON", "JSONB")
            ]
            for column in columns:
                quoted = engine.dialect.identifier_preparer.quote
                query = text(f"SELECT CAST({quoted(column)} AS TEXT) FROM {quoted(table)}")
                for (value,) in connection.execute(query):
                    assert value is None or secret not in value, f"{secret!r} found in {table}.{column}"
                    searched += 1
    assert searched > 100  # the scan really read the tables


def test_an_expired_or_forged_link_gets_a_clear_page(portal: Portal, world: World, make_web: Any) -> None:
    account = an_account(portal, world)
    filed = file(portal, world)
    approve(portal, world, filed.id or 0)
    [path] = set(LINK.findall(text_part(mail_to(portal, account.email)[0])))
    visitor = make_web()
    forged = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    assert visitor.get(forged).status_code == 410
    assert visitor.get("/password-reset/1.short").status_code == 410
    portal.clock.advance(timedelta(hours=links.LINK_HOURS, seconds=1))  # type: ignore[attr-defined]
    expired = visitor.get(path)
    assert expired.status_code == 410 and "har gått ut" in expired.text
    assert visitor.post(path).status_code == 410
    assert link_row(portal, filed.id or 0).used_at is None


def test_a_system_that_does_not_answer_leaves_the_link_usable(portal: Portal, world: World, make_web: Any) -> None:
    account = an_account(portal, world)
    filed = file(portal, world)
    approve(portal, world, filed.id or 0)
    [path] = set(LINK.findall(text_part(mail_to(portal, account.email)[0])))
    visitor = make_web()
    visitor.get(path)
    set_fault(portal.database, world.system.id or 0, fail_next=1)
    busy = visitor.post(path)
    assert busy.status_code == 503 and "Försök igen" in busy.text
    assert link_row(portal, filed.id or 0).used_at is None
    done = visitor.post(path)
    assert done.status_code == 200
    assert auth.verify_password(digest_of(portal, world, account), the_password_in(done.text))


def test_a_system_that_does_not_answer_on_approval_is_retried_and_sends_nothing_meanwhile(
    portal: Portal, world: World
) -> None:
    account = an_account(portal, world)
    filed = file(portal, world)
    set_fault(portal.database, world.system.id or 0, Fault.UNAVAILABLE)
    approve(portal, world, filed.id or 0)
    request = workflow_request(portal, filed.id or 0)
    assert request.status == Status.IN_PROGRESS and request.fulfilment_running and not request.needs_attention
    [(note, internal), (told, to_staff)] = chat(portal, filed.id or 0)
    assert internal and note.startswith("Passersystemet svarade inte:")
    assert not to_staff and "länken skickas så snart det svarar" in told
    assert not mail_to(portal, account.email)
    set_fault(portal.database, world.system.id or 0)
    portal.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    outbox.drain(portal)  # the next try, by itself
    assert workflow_request(portal, filed.id or 0).status == Status.COMPLETED
    assert len(mail_to(portal, account.email)) == 1


def test_running_the_fulfilment_again_issues_no_second_link(portal: Portal, world: World) -> None:
    from core.requests.context import FulfilmentContext
    from plugins.password_reset import PasswordReset

    account = an_account(portal, world)
    filed = file(portal, world)
    approve(portal, world, filed.id or 0)
    context = FulfilmentContext(portal.database, portal.clock, portal.settings, portal.storage, portal)
    result = PasswordReset().fulfil(workflow_request(portal, filed.id or 0), context)
    assert result.ok
    outbox.drain(portal)
    with portal.database.reading() as session:
        rows = session.execute(select(ServicePasswordLink.id).where(ServicePasswordLink.request_id == filed.id))
        assert len(rows.all()) == 1
    assert len(mail_to(portal, account.email)) == 1


def test_a_link_mail_waiting_under_the_old_topic_is_carried_over_to_the_mail_service(
    portal: Portal, world: World
) -> None:
    """Upgrading from the plugin's own mail topic: a link issued but not yet mailed is still mailed."""
    from alembic import command

    from core.migrate import alembic_config, migration_locations, upgrade, version_table_of

    filed = file(portal, world)
    account = an_account(portal, world)
    with portal.database.writing() as session:
        link = links.issue(
            session,
            portal,
            request_id=filed.id or 0,
            system_id=world.system.id or 0,
            service=account.service,
            username=account.username,
            email=account.email,
        )
    [folder] = [f for f in migration_locations(portal.plugins) if "password_reset" in str(f)]
    config = alembic_config(portal.database.url, folder, version_table_of(folder))
    with portal.database.write_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "password_reset_0001")  # the database as the old plugin left it
        connection.commit()
    with portal.database.reading() as session:
        [old] = session.exec(sql_select(outbox.OutboxMessage).where(outbox.OutboxMessage.topic != "request_filed"))
        assert (old.topic, old.payload, old.status) == ("password_reset.send_link", {"link_id": link.id}, "pending")
    upgrade(portal.database, plugins=portal.plugins)
    outbox.drain(portal)
    [mail] = mail_to(portal, account.email)
    [path] = set(LINK.findall(text_part(mail)))
    assert auth.digest(portal.secret_key, path.rsplit("/", 1)[1]) == link.digest  # the link works
    assert mail["Message-ID"].startswith(f"<password_reset.link.{link.id}.u0.")  # the id the old topic gave it
