"""Hantering av portalanvändare end to end: filing (administrators only), the rules, Utför, mails, files."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import col, select

from core.accounts import administration
from core.accounts.auth import create_api_token, user_for_token
from core.models import (
    ApiToken,
    Attachment,
    ChatMessage,
    Organisation,
    PasswordToken,
    Request,
    User,
)
from core.platform import outbox
from core.platform.i18n import CORE_DOMAIN, CORE_LOCALE_DIR
from core.portal import Portal
from core.requests.context import FulfilmentContext
from core.requests.forms import build_fields, decode, encode, json_schema
from core.requests.lifecycle import Action
from core.requests.request_types import FulfilmentResult
from core.requests.statuses import Status
from core.testing import check_request_type, form_context
from core.workflow import actions as workflow
from plugins.portal_users import PortalUsers
from plugins.portal_users.fulfilment import user_list_csv
from plugins.portal_users.records import AccountChange
from plugins.portal_users.schema import PortalUsersForm
from tests.support import PASSWORD, World

KEY = "portal_users"
FORM_URL = f"/requests/new/{KEY}"
LINK = re.compile(r"http://testserver\.local/password/([0-9]+\.[A-Za-z0-9_-]{43})")  # the whole HMAC, URL-safe
PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugins" / "portal_users"


# --- helpers -----------------------------------------------------------------------------------------------


def add_form(name: str = "Berit Ny", email: str = "berit@testet.example", role: str = "member") -> dict[str, str]:
    return {"task": "add", "task.name": name, "task.email": email, "task.role": role}


def remove_form(user_id: Any) -> dict[str, str]:
    return {"task": "remove", "task.user_id": str(user_id)}


def file_by_web(web: Any, form: dict[str, str]) -> Any:
    web.get(FORM_URL)
    return web.post(FORM_URL, form, follow_redirects=False)


def filed_id(response: Any) -> int:
    assert response.status_code == 302, response.text
    return int(response.headers["location"].split("/")[2].split("?")[0])


def file_directly(portal: Portal, user: User, task: dict[str, Any]) -> Request:
    return workflow.file(portal, user, KEY, {"task": task}, None)


def approve(portal: Portal, world: World, request_id: int) -> Request:
    """Staff take the request and press Utför; the worker runs the hook (the outbox, synchronously)."""
    workflow.perform(portal, world.staff, request_id, Action.TAKE)
    workflow.perform(portal, world.staff, request_id, Action.CARRY_OUT)
    outbox.drain(portal)
    return stored(portal, request_id)


def stored(portal: Portal, request_id: int) -> Request:
    with portal.database.reading() as s:
        found = s.get(Request, request_id)
        assert found is not None
        return found


def fetch_user(portal: Portal, email: str) -> User | None:
    with portal.database.reading() as s:
        return s.exec(select(User).where(User.email == email)).first()


def chat(portal: Portal, request_id: int) -> list[tuple[str, bool]]:
    with portal.database.reading() as s:
        rows = s.exec(select(ChatMessage).where(ChatMessage.request_id == request_id).order_by(col(ChatMessage.id)))
        return [(m.body, m.internal) for m in rows]


def count(portal: Portal, model: Any, *conditions: Any) -> int:
    with portal.database.reading() as s:
        return len(list(s.exec(select(model).where(*conditions))))


def requests_saved(portal: Portal) -> int:
    return count(portal, Request, Request.type_key == KEY)


def fulfilment_context(portal: Portal) -> FulfilmentContext:
    return FulfilmentContext(
        database=portal.database,
        clock=portal.clock,
        settings=portal.settings,
        storage=portal.storage,
        portal=portal,
    )


def run_hook(portal: Portal, request_id: int) -> FulfilmentResult:
    """The hook alone, as a worker that crashes before recording the outcome would have run it."""
    return PortalUsers().fulfil(stored(portal, request_id), fulfilment_context(portal))


def mails(portal: Portal) -> list[str]:
    folder = Path(portal.settings.data_dir) / "mail"
    found = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        found.append(f"To: {message['To']}\nSubject: {message['Subject']}\n\n{text}")
    return found


def mails_to(portal: Portal, address: str) -> list[str]:
    return [mail for mail in mails(portal) if address in mail.splitlines()[0]]


def set_language(portal: Portal, user: User, language: str) -> None:
    with portal.database.writing() as s:
        row = s.get(User, user.id)
        assert row is not None
        row.language = language
        s.add(row)


def second_admin(portal: Portal, world: World, name: str = "Bo Admin", email: str = "bo@testet.example") -> User:
    with portal.database.writing() as s:
        return administration.create_customer_user(
            s,
            world.org,
            {"name": name, "email": email, "password": PASSWORD, "role": "administrator"},
            clock=portal.clock,
        )


def two_admin_organisation(portal: Portal) -> tuple[User, User]:
    """An organisation with two administrators and nobody else."""
    with portal.database.writing() as s:
        org = s.exec(select(Organisation).where(Organisation.name == "Brf Testet")).one()
        pair = administration.save_organisation(s, {"name": "Par AB", "office_id": org.office_id}, clock=portal.clock)
        users = [
            administration.create_customer_user(
                s,
                pair,
                {"name": name, "email": email, "password": PASSWORD, "role": "administrator"},
                clock=portal.clock,
            )
            for name, email in (("Xena Först", "xena@par.example"), ("Yngve Sist", "yngve@par.example"))
        ]
    return users[0], users[1]


def csv_rows(portal: Portal, attachment: Attachment) -> list[list[str]]:
    with portal.storage.open(attachment.storage_key) as stream:
        raw = stream.read()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


# --- who may file it ---------------------------------------------------------------------------------------


def test_members_neither_see_the_tile_nor_can_file_it(portal: Portal, world: World, make_web: Any) -> None:
    admin, member = make_web(), make_web()
    admin.login(world.admin.email)
    member.login(world.member.email)
    assert "Hantering av portalanvändare" in admin.get("/").text
    assert f'href="{FORM_URL}"' in admin.get("/").text

    start = member.get("/").text
    assert "Hantering av portalanvändare" not in start and FORM_URL not in start
    assert member.get(FORM_URL).status_code == 404
    refused = member.post(FORM_URL, add_form(), follow_redirects=False)
    assert refused.status_code == 404

    with portal.database.writing() as s:
        token = create_api_token(s, world.member, "test", secret_key=portal.secret_key, clock=portal.clock)
    headers = {"authorization": f"Bearer {token}"}
    keys = [t["key"] for t in member.client.get("/api/v1/request-types", headers=headers).json()]
    assert KEY not in keys
    assert member.client.get(f"/api/v1/request-types/{KEY}", headers=headers).status_code == 404
    body = {"type": KEY, "data": {"task": {"kind": "list"}}, "carry_out_on": None}
    assert member.client.post("/api/v1/requests", headers=headers, json=body).status_code == 404
    assert requests_saved(portal) == 0


def test_an_administrator_files_through_the_api_with_field_errors_by_path(
    portal: Portal, world: World, web: Any
) -> None:
    with portal.database.writing() as s:
        token = create_api_token(s, world.admin, "test", secret_key=portal.secret_key, clock=portal.clock)
    headers = {"authorization": f"Bearer {token}"}
    schema = web.client.get(f"/api/v1/request-types/{KEY}", headers=headers).json()["json_schema"]
    assert schema["properties"]["task"]["discriminator"]["propertyName"] == "kind"

    bad = {"type": KEY, "data": {"task": {"kind": "add", "name": "", "email": "inte-en-adress"}}, "carry_out_on": None}
    refused = web.client.post("/api/v1/requests", headers=headers, json=bad)
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"task.name", "task.email"}

    good = {"type": KEY, "data": {"task": {"kind": "add", "name": "Berit Ny", "email": "Berit@Testet.Example"}}}
    created = web.client.post("/api/v1/requests", headers=headers, json={**good, "carry_out_on": None})
    assert created.status_code == 201, created.text
    assert created.json()["data"]["task"] == {
        "kind": "add",
        "name": "Berit Ny",
        "email": "berit@testet.example",
        "role": "member",
    }
    assert created.json()["summary"] == "Lägg till: Berit Ny (berit@testet.example)"


# --- the form and its field errors -------------------------------------------------------------------------


def test_the_form_offers_the_three_tasks_and_only_this_organisations_active_users(
    portal: Portal, world: World, web: Any
) -> None:
    with portal.database.writing() as s:
        administration.deactivate_user(s, world.member.id or 0, clock=portal.clock)
    web.login(world.admin.email)
    page = html.unescape(web.get(FORM_URL).text)
    assert page.count('name="task"') == 3
    for label in ("Lägg till en användare", "Ta bort en användare", "Få en lista över användarna"):
        assert label in page
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', page)
    assert options == [(str(world.admin.id), "Anna Admin (anna@testet.example) – Administratör")]
    assert "Olle" not in page and "Maja" not in page


def test_add_field_errors_keep_what_was_typed_and_save_nothing(portal: Portal, world: World, web: Any) -> None:
    web.login(world.admin.email)
    response = file_by_web(web, add_form(name="   ", email="berit(at)testet"))
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert 'id="f-task-name-error"' in page and 'id="f-task-email-error"' in page
    assert "Fältet är obligatoriskt." in page
    assert "Ange en giltig e-postadress" in page
    assert 'value="berit(at)testet"' in page  # what was typed stays
    assert re.search(r'id="f-task--add"[^>]*checked', page)
    assert requests_saved(portal) == 0


def test_no_task_chosen_is_a_field_error(portal: Portal, world: World, web: Any) -> None:
    web.login(world.admin.email)
    response = file_by_web(web, {})
    assert response.status_code == 422
    assert 'id="f-task-error"' in response.text
    assert requests_saved(portal) == 0


@pytest.mark.parametrize("whose", ["other_organisation", "same_organisation", "staff"])
def test_an_address_in_use_is_refused_without_saying_where(portal: Portal, world: World, web: Any, whose: str) -> None:
    taken = {"other_organisation": world.outsider, "same_organisation": world.member, "staff": world.staff}[whose]
    web.login(world.admin.email)
    response = file_by_web(web, add_form(email=f"  {taken.email.upper()} "))
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert "Det finns redan en portalanvändare med den här e-postadressen." in page
    for whereabouts in ("Annan AB", "Olle", "Henrik", "Handläggare"):
        assert whereabouts not in page.split("</header>", 1)[-1], whereabouts  # nothing says whose it is
    assert requests_saved(portal) == 0


def test_remove_field_errors(portal: Portal, world: World, web: Any) -> None:
    web.login(world.admin.email)
    missing = file_by_web(web, {"task": "remove"})
    assert missing.status_code == 422 and 'id="f-task-user-id-error"' in missing.text

    not_yours = "Välj en av er organisations användare."
    for foreign in (world.outsider.id, world.staff.id, 999_999, 10**12):
        response = file_by_web(web, remove_form(foreign))
        page = html.unescape(response.text)
        assert response.status_code == 422 and not_yours in page, foreign
        assert "Olle" not in page and "olle@annan.example" not in page and "Annan AB" not in page

    typed = file_by_web(web, remove_form("inte-ett-id"))
    assert typed.status_code == 422 and 'id="f-task-user-id-error"' in typed.text
    assert requests_saved(portal) == 0


def test_a_user_already_removed_cannot_be_removed_again(portal: Portal, world: World) -> None:
    with portal.database.writing() as s:
        administration.deactivate_user(s, world.member.id or 0, clock=portal.clock)
    with pytest.raises(Exception) as raised:
        file_directly(portal, world.admin, {"kind": "remove", "user_id": world.member.id})
    assert getattr(raised.value, "errors", {}) == {"task.user_id": ["Användaren är redan borttagen."]}


def test_the_last_administrator_and_the_last_user_cannot_be_removed_at_filing(
    portal: Portal, world: World, web: Any
) -> None:
    web.login(world.admin.email)
    alone = file_by_web(web, remove_form(world.admin.id))  # Maja stays, but no administrator would
    assert alone.status_code == 422
    assert "Er organisation måste ha minst en administratör kvar." in html.unescape(alone.text)

    with portal.database.writing() as s:
        administration.deactivate_user(s, world.member.id or 0, clock=portal.clock)
    last = file_by_web(web, remove_form(world.admin.id))
    assert "Ni kan inte ta bort er organisations sista användare." in html.unescape(last.text)
    assert requests_saved(portal) == 0

    bo = second_admin(portal, world)
    allowed = file_by_web(web, remove_form(world.admin.id))  # with another administrator, one may leave
    assert stored(portal, filed_id(allowed)).summary == "Ta bort: Anna Admin (anna@testet.example)"
    assert bo.active


def test_the_same_change_cannot_be_asked_for_twice_while_it_is_open(portal: Portal, world: World, web: Any) -> None:
    web.login(world.admin.email)
    first_add = filed_id(file_by_web(web, add_form()))
    again = file_by_web(web, add_form(email="BERIT@testet.example"))
    assert again.status_code == 422
    assert f"Det finns redan ett öppet ärende om att lägga till den här adressen (BB-{first_add})." in html.unescape(
        again.text
    )
    first_remove = filed_id(file_by_web(web, remove_form(world.member.id)))
    twice = file_by_web(web, remove_form(world.member.id))
    assert f"ett öppet ärende om att ta bort den här användaren (BB-{first_remove})" in html.unescape(twice.text)

    workflow.perform(portal, world.admin, first_add, Action.WITHDRAW)  # a closed request no longer blocks
    assert file_by_web(web, add_form()).status_code == 302


# --- add ---------------------------------------------------------------------------------------------------


def test_add_invites_the_new_user_who_sets_a_password_and_logs_in(portal: Portal, world: World, make_web: Any) -> None:
    admin, staff, newcomer = make_web(), make_web(), make_web()
    admin.login(world.admin.email)
    request_id = filed_id(file_by_web(admin, add_form(name="Berit Ny", email="Berit@Testet.Example", role="member")))
    assert stored(portal, request_id).summary == "Lägg till: Berit Ny (berit@testet.example)"
    assert fetch_user(portal, "berit@testet.example") is None  # nothing happens before staff approve

    staff.login(world.staff.email)
    staff.post(f"/staff/requests/{request_id}/take")
    staff.post(f"/staff/requests/{request_id}/carry_out")
    outbox.drain(portal)

    assert stored(portal, request_id).status == Status.COMPLETED
    berit = fetch_user(portal, "berit@testet.example")
    assert berit is not None and berit.organisation_id == world.org.id and berit.role == "member"
    assert berit.password_hash is None and berit.active
    assert chat(portal, request_id)[-1] == (
        "Berit Ny (berit@testet.example) är tillagd som medlem. En inbjudan med en länk för att välja lösenord har "
        "skickats till berit@testet.example; länken gäller i 72 timmar.",
        False,
    )
    [invitation] = mails_to(portal, "berit@testet.example")
    assert "Subject: Välkommen till BBGRUPPEN Portal" in invitation
    token = LINK.search(invitation).group(1)  # type: ignore[union-attr]

    assert newcomer.get(f"/password/{token}").status_code == 200
    done = newcomer.post(
        f"/password/{token}", {"password": "bertas-eget-losen", "repeated": "bertas-eget-losen"}, follow_redirects=False
    )
    assert done.status_code == 302
    assert newcomer.login("berit@testet.example", "bertas-eget-losen").status_code == 302
    start = newcomer.get("/")
    assert start.status_code == 200 and "Felanmälan" in start.text
    assert "Hantering av portalanvändare" not in start.text  # a member, as asked
    with portal.database.reading() as s:
        change = s.exec(select(AccountChange).where(AccountChange.request_id == request_id)).one()
    assert (change.user_id, change.change) == (berit.id, "created")


def test_an_added_administrator_is_an_administrator(portal: Portal, world: World) -> None:
    filed = file_directly(
        portal,
        world.admin,
        {"kind": "add", "name": "Cissi Chef", "email": "cissi@testet.example", "role": "administrator"},
    )
    assert filed.summary == "Lägg till: Cissi Chef (cissi@testet.example), administratör"
    approve(portal, world, filed.id or 0)
    cissi = fetch_user(portal, "cissi@testet.example")
    assert cissi is not None and cissi.is_org_admin
    assert "är tillagd som administratör" in chat(portal, filed.id or 0)[-1][0]


def test_add_is_idempotent_when_the_hook_runs_again(portal: Portal, world: World) -> None:
    filed = file_directly(portal, world.admin, {"kind": "add", "name": "Berit Ny", "email": "berit@testet.example"})
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    first = run_hook(portal, filed.id or 0)  # the worker made the account, then crashed before recording it
    assert first.ok
    workflow.perform(portal, world.staff, filed.id or 0, Action.CARRY_OUT)
    outbox.drain(portal)
    again = run_hook(portal, filed.id or 0)

    assert stored(portal, filed.id or 0).status == Status.COMPLETED
    assert again.ok and again.customer_message == first.customer_message
    assert "ingenting gjordes om" in again.internal_note
    berit = fetch_user(portal, "berit@testet.example")
    assert berit is not None
    assert count(portal, User, User.email == "berit@testet.example") == 1
    assert count(portal, PasswordToken, PasswordToken.user_id == berit.id) == 1
    assert len(mails_to(portal, "berit@testet.example")) == 1


def test_an_address_taken_after_filing_fails_with_a_note_and_a_line_for_the_customer(
    portal: Portal, world: World
) -> None:
    filed = file_directly(portal, world.admin, {"kind": "add", "name": "Berit Ny", "email": "berit@testet.example"})
    set_language(portal, world.admin, "en")
    with portal.database.writing() as s:  # meanwhile staff gave the address to another organisation
        administration.create_customer_user(
            s, world.other_org, {"name": "Berit Annan", "email": "berit@testet.example"}, clock=portal.clock
        )
    result = approve(portal, world, filed.id or 0)

    assert result.status == Status.IN_PROGRESS and result.needs_attention
    notes = chat(portal, filed.id or 0)
    assert (
        "berit@testet.example was not added: there is already a portal user with this e-mail address. "
        "Nothing was changed.",
        False,
    ) in notes
    [internal] = [body for body, internal in notes if internal]
    assert internal.startswith("Inte tillagd: adressen berit@testet.example tillhör redan användare")
    assert count(portal, User, User.email == "berit@testet.example") == 1
    assert count(portal, AccountChange) == 0


def test_a_removed_user_of_the_organisation_can_be_added_again(portal: Portal, world: World, web: Any) -> None:
    old = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    with portal.database.writing() as s:
        administration.deactivate_user(s, world.member.id or 0, clock=portal.clock)
    filed = file_directly(
        portal,
        world.admin,
        {"kind": "add", "name": "Maja Åter", "email": "MAJA@testet.example", "role": "administrator"},
    )
    approve(portal, world, filed.id or 0)

    maja = fetch_user(portal, "maja@testet.example")
    assert maja is not None and maja.id == world.member.id and maja.active and maja.is_org_admin
    assert maja.name == "Maja Åter" and maja.password_hash is None
    assert web.login(world.member.email).status_code == 401  # the old password no longer works
    assert stored(portal, old.id or 0).requester_id == maja.id  # her old requests are hers again
    assert any(LINK.search(mail) for mail in mails_to(portal, "maja@testet.example"))
    assert "återöppnat" in next(body for body, internal in chat(portal, filed.id or 0) if internal)


def test_a_removed_user_of_another_organisation_cannot_be_added(portal: Portal, world: World) -> None:
    with portal.database.writing() as s:
        administration.deactivate_user(s, world.outsider.id or 0, clock=portal.clock)
    with pytest.raises(Exception) as raised:
        file_directly(portal, world.admin, {"kind": "add", "name": "Olle", "email": world.outsider.email})
    assert getattr(raised.value, "errors", {}) == {
        "task.email": ["Det finns redan en portalanvändare med den här e-postadressen."]
    }


# --- remove ------------------------------------------------------------------------------------------------


def test_remove_ends_the_users_sessions_and_keeps_their_requests_and_messages(
    portal: Portal, world: World, make_web: Any
) -> None:
    member, admin = make_web(), make_web()
    member.login(world.member.email)
    fault = filed_id(
        member.post("/requests/new/fault_report", {k: str(v) for k, v in world.fault().items()}, follow_redirects=False)
    )
    member.post(f"/requests/{fault}/messages", {"body": "Dörren går fortfarande inte upp.", "kind": "message"})
    with portal.database.writing() as s:
        token = create_api_token(s, world.member, "test", secret_key=portal.secret_key, clock=portal.clock)
    assert member.get("/requests", follow_redirects=False).status_code == 200

    admin.login(world.admin.email)
    request_id = filed_id(file_by_web(admin, remove_form(world.member.id)))
    assert stored(portal, request_id).summary == "Ta bort: Maja Medlem (maja@testet.example)"
    assert member.get("/requests", follow_redirects=False).status_code == 200  # not before staff approve
    assert approve(portal, world, request_id).status == Status.COMPLETED

    ended = member.get("/requests", follow_redirects=False)
    assert ended.status_code == 302 and ended.headers["location"].startswith("/login")
    assert member.login(world.member.email).status_code == 401  # and cannot log in again
    assert member.get("/requests", follow_redirects=False).status_code == 302
    with portal.database.reading() as s:
        assert user_for_token(s, token, secret_key=portal.secret_key) is None
        assert s.exec(select(ApiToken).where(ApiToken.user_id == world.member.id)).one().revoked_at is not None

    page = html.unescape(admin.get(f"/requests/{fault}").text)  # her request and message stay, under her name
    assert re.search(r"<dt>Inskickat av</dt><dd>Maja Medlem</dd>", page)
    assert re.search(r"<strong>Maja Medlem</strong> \(Brf Testet\)[^<]*</p>\s*<[^>]*>[^<]*Dörren går fortfarande", page)
    removal = html.unescape(admin.get(f"/requests/{request_id}").text)
    assert "<dt>Användare</dt><dd>Maja Medlem (maja@testet.example)</dd>" in removal  # named, though removed
    assert (
        "Maja Medlem (maja@testet.example) är borttagen och kan inte längre logga in. "
        "Användarens ärenden och meddelanden finns kvar i portalen." in removal
    )


def test_remove_is_idempotent_when_the_hook_runs_again(portal: Portal, world: World) -> None:
    filed = file_directly(portal, world.admin, {"kind": "remove", "user_id": world.member.id})
    approve(portal, world, filed.id or 0)
    again = run_hook(portal, filed.id or 0)
    assert again.ok and "ingenting gjordes om" in again.internal_note
    assert count(portal, AccountChange, AccountChange.request_id == filed.id) == 1
    member = fetch_user(portal, world.member.email)
    assert member is not None and not member.active


def test_a_user_removed_by_someone_else_meanwhile_counts_as_done(portal: Portal, world: World) -> None:
    filed = file_directly(portal, world.admin, {"kind": "remove", "user_id": world.member.id})
    with portal.database.writing() as s:
        administration.deactivate_user(s, world.member.id or 0, clock=portal.clock)
    assert approve(portal, world, filed.id or 0).status == Status.COMPLETED
    assert "var redan borttagen" in chat(portal, filed.id or 0)[-1][0]
    assert count(portal, AccountChange) == 0


def test_the_last_administrator_rule_is_checked_again_when_carried_out(portal: Portal, world: World) -> None:
    bo = second_admin(portal, world)
    set_language(portal, bo, "en")
    anna_removes_bo = file_directly(portal, world.admin, {"kind": "remove", "user_id": bo.id})
    bo_removes_anna = file_directly(portal, bo, {"kind": "remove", "user_id": world.admin.id})  # valid when filed
    assert approve(portal, world, anna_removes_bo.id or 0).status == Status.COMPLETED

    refused = approve(portal, world, bo_removes_anna.id or 0)
    assert refused.status == Status.IN_PROGRESS and refused.needs_attention
    anna = fetch_user(portal, world.admin.email)
    assert anna is not None and anna.active
    lines = chat(portal, bo_removes_anna.id or 0)
    assert (  # Bo filed it and reads English; the note is for staff, in Swedish
        "Anna Admin (anna@testet.example) was not removed: Your organisation must keep at least one administrator. "
        "Add another administrator first.",
        False,
    ) in lines
    [note] = [body for body, internal in lines if internal]
    assert note.startswith("Inte borttagen: Er organisation måste ha minst en administratör kvar.")


def test_the_last_user_rule_is_checked_again_when_carried_out(portal: Portal, world: World) -> None:
    xena, yngve = two_admin_organisation(portal)
    first = file_directly(portal, xena, {"kind": "remove", "user_id": yngve.id})
    second = file_directly(portal, yngve, {"kind": "remove", "user_id": xena.id})
    assert approve(portal, world, first.id or 0).status == Status.COMPLETED
    refused = approve(portal, world, second.id or 0)
    assert refused.status == Status.IN_PROGRESS and refused.needs_attention
    assert "Xena Först (xena@par.example) togs inte bort: Ni kan inte ta bort er organisations sista användare." in [
        body for body, _internal in chat(portal, second.id or 0)
    ]
    still = fetch_user(portal, xena.email)
    assert still is not None and still.active


def test_a_request_naming_another_organisations_user_never_touches_them(portal: Portal, world: World) -> None:
    """Stored data the form could not produce (an old bug, a hand-edited row) still fails safe."""
    filed = file_directly(portal, world.admin, {"kind": "remove", "user_id": world.member.id})
    with portal.database.writing() as s:
        row = s.get(Request, filed.id)
        assert row is not None
        row.data = {"task": {"kind": "remove", "user_id": world.outsider.id}}
        s.add(row)
    result = approve(portal, world, filed.id or 0)
    assert result.needs_attention and result.status == Status.IN_PROGRESS
    outsider = fetch_user(portal, world.outsider.email)
    assert outsider is not None and outsider.active
    assert [internal for _body, internal in chat(portal, filed.id or 0)] == [True]  # nothing for the customer


# --- list --------------------------------------------------------------------------------------------------


def test_list_attaches_a_csv_of_the_organisations_users(portal: Portal, world: World, web: Any) -> None:
    with portal.database.writing() as s:
        administration.deactivate_user(s, world.member.id or 0, clock=portal.clock)
    web.login(world.admin.email)
    request_id = filed_id(file_by_web(web, {"task": "list"}))
    assert stored(portal, request_id).summary == "Lista över användare"
    assert approve(portal, world, request_id).status == Status.COMPLETED

    with portal.database.reading() as s:
        [attachment] = s.exec(select(Attachment).where(Attachment.request_id == request_id)).all()
    assert attachment.origin == "user-list" and attachment.content_type == "text/csv" and not attachment.internal
    assert attachment.filename == "portalanvandare-2026-11-27.csv"
    assert csv_rows(portal, attachment) == [
        ["Namn", "E-postadress", "Roll", "Aktiv", "Skapad"],
        ["Anna Admin", "anna@testet.example", "Administratör", "Ja", "2026-11-27 10:00"],
    ]
    assert chat(portal, request_id)[-1] == (
        "Listan över er organisations portalanvändare (1) finns bifogad till ärendet som "
        "portalanvandare-2026-11-27.csv.",
        False,
    )

    again = run_hook(portal, request_id)  # a retry replaces the file instead of adding one
    assert again.ok
    assert count(portal, Attachment, Attachment.request_id == request_id) == 1


def test_list_with_removed_users_in_the_requesters_language(portal: Portal, world: World) -> None:
    with portal.database.writing() as s:
        administration.deactivate_user(s, world.member.id or 0, clock=portal.clock)
    set_language(portal, world.admin, "en")
    filed = file_directly(portal, world.admin, {"kind": "list", "include_removed": True})
    assert filed.summary == "Lista över användare, med borttagna"
    approve(portal, world, filed.id or 0)
    with portal.database.reading() as s:
        attachment = s.exec(select(Attachment).where(Attachment.request_id == filed.id)).one()
    assert attachment.filename == "portal-users-2026-11-27.csv"
    assert csv_rows(portal, attachment) == [
        ["Name", "E-mail address", "Role", "Active", "Created"],
        ["Anna Admin", "anna@testet.example", "Administrator", "Yes", "2026-11-27 10:00"],
        ["Maja Medlem", "maja@testet.example", "Member", "No", "2026-11-27 10:00"],
    ]
    assert "Olle" not in str(csv_rows(portal, attachment))


def test_csv_cells_that_look_like_formulas_are_defused() -> None:
    user = User(
        email="a@b.example",
        name='=HYPERLINK("http://evil.example","Klicka")',
        kind="customer",
        role="member",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    text = b"".join(user_list_csv([user], "sv")).decode("utf-8-sig")
    [_header, row] = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert row[0] == "'" + user.name and row[2] == "Medlem" and row[4] == "2026-01-01 01:00"


# --- form, summary and texts -------------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=200)


@given(name=names.filter(lambda n: n.strip()), role=st.sampled_from(["member", "administrator"]))
def test_an_add_task_survives_the_form_round_trip_and_is_summarised(name: str, role: str) -> None:
    fields = build_fields(PortalUsersForm)
    data = {"task": {"kind": "add", "name": name.strip(), "email": "berit@testet.example", "role": role}}
    parsed = PortalUsersForm.model_validate(decode(fields, encode(fields, data)))
    assert parsed.model_dump() == data
    summary = PortalUsers().summary(parsed)
    assert summary.startswith("Lägg till: ") and name.strip() in summary


def test_every_text_of_the_plugin_has_swedish() -> None:
    """Each message the plugin shows (code, form labels, hints, option labels) is in its catalog or the core's."""
    with (PLUGIN_DIR / "locale/sv/LC_MESSAGES/portal_users.po").open("rb") as source:
        plugin = {m.id: m.string for m in read_po(source) if m.id}
    with (CORE_LOCALE_DIR / "sv/LC_MESSAGES" / f"{CORE_DOMAIN}.po").open("rb") as source:
        core = {m.id: m.string for m in read_po(source) if m.id}
    keywords: dict[str, Any] = {"_": None, "N_": None, "customer": None, "staff": None}
    used = {PortalUsers.name, PortalUsers.description}
    for path in PLUGIN_DIR.glob("*.py"):
        used |= {str(found[1]) for found in extract_from_file("python", path, keywords=keywords)}
    schema = json_schema(PortalUsersForm)
    for model in [schema, *schema["$defs"].values()]:
        used.add(model["title"])
        for name, prop in model["properties"].items():
            if name == "kind":
                continue  # the discriminator: never shown, it is the radio button's value
            used |= {prop[key] for key in ("title", "description") if key in prop}
            used |= set(prop.get("enum_labels", {}).values())
    assert len(used) > 40
    missing = sorted(m for m in used if not (plugin.get(m) or core.get(m)))
    assert missing == []
    assert [m for m, translated in plugin.items() if not translated] == []


# --- the plugin contract -----------------------------------------------------------------------------------


def test_portal_users_keeps_the_plugin_contract(portal: Portal, world: World) -> None:
    """core.testing: generated payloads of every task are accepted, survive the form, mutations refused."""
    bo = second_admin(portal, world)  # so that administrators, too, may be drawn for removal
    file_directly(portal, world.admin, {"kind": "remove", "user_id": world.member.id})  # Maja: already asked for
    with form_context(portal, world.admin) as context:
        request_type = portal.registry.require(KEY)
        drawn = request_type.example_strategies(context)["task.user_id"]
        assert repr(drawn) == f"sampled_from([{world.admin.id}, {bo.id}])"
        check_request_type(request_type, context, max_examples=60)


def test_two_filings_of_the_same_change_at_the_same_moment_file_one(portal: Portal, world: World) -> None:
    """The open-request check runs in the write transaction (``validate_while_writing``), one at a time."""
    import threading

    from core.platform.errors import ValidationFailed

    payload = {"task": {"kind": "add", "name": "Berit Ny", "email": "berit@testet.example", "role": "member"}}
    outcomes: list[Any] = []
    start = threading.Barrier(6)

    def file() -> None:
        start.wait()
        try:
            outcomes.append(workflow.file(portal, world.admin, "portal_users", payload, None).id)
        except ValidationFailed as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=file) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len([o for o in outcomes if isinstance(o, int)]) == 1
    assert len([o for o in outcomes if isinstance(o, ValidationFailed)]) == 5
