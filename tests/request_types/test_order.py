"""Beställning (plugins/order): the form, its validation against the hosted system, filing, and fulfilment.

Through the real database (SQLite, or PostgreSQL with BBPORTAL_TEST_DATABASE_URL), the Litestar test client
and the embedded access-control simulator; staff actions go through the staff pages and the outbox is run
with ``core.platform.outbox.drain``.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlmodel import col, func, select

from core.access_control import AccessControl, Holder, HolderKind
from core.access_control.simulator import Fault, set_fault
from core.accounts import administration
from core.models import ChatMessage, Request, Store
from core.platform import outbox
from core.portal import Portal
from core.requests.context import FulfilmentContext
from core.requests.request_types import FulfilmentMode
from core.requests.statuses import Status
from core.testing import check_request_type, form_context
from plugins.order import Order, holder_label, national, split_ref
from plugins.order.schema import OrderForm, normalise_postcode
from tests.support import World, hidden_fields

FORM = "/requests/new/order"
STATIC = Path(__file__).resolve().parents[2] / "core" / "web" / "static"


# --- helpers -------------------------------------------------------------------------------------------------


@pytest.fixture
def store(portal: Portal) -> Store:
    with portal.database.writing() as session:
        return administration.create_store(
            session,
            {"name": "BBGRUPPEN Centrum", "address": "Drottninggatan 5, Stockholm", "opening_hours": "Mån–Fre 10–18"},
        )


@pytest.fixture
def closed_store(portal: Portal) -> Store:
    with portal.database.writing() as session:
        closed = administration.create_store(session, {"name": "BBGRUPPEN Hamnen", "address": "Kajen 1, Göteborg"})
        closed.active = False
        session.add(closed)
        return closed


def token_for(portal: Portal, user: Any) -> dict[str, str]:
    from core.accounts.auth import create_api_token

    with portal.database.writing() as session:
        token = create_api_token(session, user, "test", secret_key=portal.secret_key, clock=portal.clock)
    return {"authorization": f"Bearer {token}"}


def adapter_of(portal: Portal, system: Any) -> AccessControl:
    return portal.access_control(system)


def a_tenant(portal: Portal, world: World) -> Holder:
    return next(h for h in adapter_of(portal, world.system).holders() if h.kind == HolderKind.TENANT)


def access_values(portal: Portal, world: World, holder: Holder | None = None, groups: int = 2) -> dict[str, Any]:
    holder = holder or a_tenant(portal, world)
    group_ids = [g.id for g in adapter_of(portal, world.system).access_groups()][:groups]
    return {
        "system_id": str(world.system.id),
        "order": "access",
        "order.holder": f"{world.system.id}:{holder.id}",
        "order.access_groups": [f"{world.system.id}:{g}" for g in group_ids],
    }


def door_phone_values(world: World, entry: str = "new", **changes: str) -> dict[str, Any]:
    return {
        "system_id": str(world.door_phone.id),
        "order": "door_phone",
        "order.entry": entry,
        "order.display_name": "NYBERG",
        "order.phone_number": "070-765 43 21",
        **changes,
    }


def tag_values(world: World, **changes: str) -> dict[str, Any]:
    return {
        "system_id": str(world.system.id),
        "order": "tags",
        "order.tag_type": "desfire_ev3_fob",
        "order.quantity": "20",
        **changes,
    }


SEND = {
    "order.delivery": "send",
    "order.delivery.recipient": "Brf Testet, Anna Admin",
    "order.delivery.street": "Storgatan 1",
    "order.delivery.postcode": "12345",
    "order.delivery.city": "Testby",
}


def request_id_of(response: Any) -> int:
    assert response.status_code == 302, response.text
    found = re.fullmatch(r"/requests/(\d+)(\?.*)?", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


def error_ids(html: str) -> set[str]:
    return set(re.findall(r'<p class="field-error" id="f-([\w-]+)-error"', html))


def count_requests(portal: Portal) -> int:
    with portal.database.reading() as session:
        return int(session.exec(select(func.count()).select_from(Request)).one())


def stored(portal: Portal, request_id: int) -> Request:
    with portal.database.reading() as session:
        found = session.get(Request, request_id)
        assert found is not None
        return found


def messages(portal: Portal, request_id: int) -> list[tuple[str, bool]]:
    with portal.database.reading() as session:
        rows = session.exec(
            select(ChatMessage).where(ChatMessage.request_id == request_id).order_by(col(ChatMessage.id))
        )
        return [(m.body, m.internal) for m in rows]


def file_by_web(web: Any, values: dict[str, Any]) -> int:
    """Send the form; a confirmation page (a cost, groups to be removed) is confirmed as shown."""
    web.get(FORM)
    response = web.post(FORM, values, follow_redirects=False)
    if response.status_code == 200 and 'name="estimate"' in response.text:
        response = web.post(FORM, hidden_fields(response.text), follow_redirects=False)
    return request_id_of(response)


def refused(portal: Portal, web: Any, values: dict[str, Any]) -> tuple[set[str], str]:
    """Post ``values``: the form comes back (422) with field errors and nothing is stored."""
    before = count_requests(portal)
    web.get(FORM)
    response = web.post(FORM, values)
    assert response.status_code == 422, response.text[:500]
    assert count_requests(portal) == before
    return error_ids(response.text), response.text


def carry_out(portal: Portal, staff: Any, request_id: int, *, take: bool = True) -> Any:
    if take:
        assert staff.post(f"/staff/requests/{request_id}/take").status_code in (200, 302)
    page = staff.post(f"/staff/requests/{request_id}/carry_out", follow_redirects=True)
    assert page.status_code == 200, page.text[:500]
    outbox.drain(portal)
    return page


@pytest.fixture
def staff(world: World, make_web: Any) -> Any:
    client = make_web()
    client.login(world.staff.email)
    return client


@pytest.fixture
def customer(world: World, make_web: Any) -> Any:
    client = make_web()
    client.login(world.member.email)
    return client


# --- the form ------------------------------------------------------------------------------------------------


def test_the_form_lists_the_choices_of_the_chosen_system(
    portal: Portal, world: World, customer: Any, store: Store, closed_store: Store
) -> None:
    page = customer.get(FORM).text
    system, door_phone = adapter_of(portal, world.system), adapter_of(portal, world.door_phone)
    holder = a_tenant(portal, world)
    assert f'value="{world.system.id}:{holder.id}"' not in page and "Välj först: System." in page
    assert '<option value="new" >Ny post</option>' in page  # offered whatever the system

    page = customer.post(FORM, {"system_id": str(world.system.id), "step": "refresh:system_id"}).text
    assert f'<option value="{world.system.id}:{holder.id}" >{holder.name}</option>' in page
    assert "<optgroup" not in page.split('name="order.holder"')[1].split("</select>")[0]  # one system: no headings
    group = system.access_groups()[0]
    assert f'name="order.access_groups" value="{world.system.id}:{group.id}"' in page
    entry = door_phone.door_phone_entries()[0]
    assert f'value="{world.door_phone.id}:{entry.id}"' not in page  # the door phone's entries follow its system

    page = customer.get(f"{FORM}?system_id={world.door_phone.id}").text  # a GET re-render does the same
    assert (
        f'<option value="{world.door_phone.id}:{entry.id}" >' in page and f"{world.system.id}:{holder.id}" not in page
    )
    assert "BBGRUPPEN Centrum, Drottninggatan 5, Stockholm, Mån–Fre 10–18" in page
    assert "BBGRUPPEN Hamnen" not in page  # a closed store is not offered
    other = adapter_of(portal, world.other_system).holders()[0]
    assert f'value="{world.other_system.id}:{other.id}"' not in page  # another organisation's holders never show
    for label in ("Ändring av behörighet", "Ändring i porttelefonen", "Annan ändring", "Beställning av taggar"):
        assert label in page
    assert "Mifare DESFire EV3 bricka" in page and "Bilbricka/long-range" in page


def test_without_javascript_only_the_chosen_variants_fields_show(world: World, customer: Any) -> None:
    """Server-rendered: each variant's fields follow its own radio, and the stylesheet hides unchosen ones."""
    customer.get(FORM)
    page = customer.post(FORM, tag_values(world, **{"order.quantity": "0", "order.delivery": "pickup"})).text

    options = re.findall(
        r'<div class="variant-option">\s*<input type="radio" id="f-order--([\w-]+)" name="order" value="(\w+)"'
        r'\s*(checked)? class="variant-choice">\s*<label for="f-order--\1">[^<]+</label>'
        r'\s*<div class="variant" data-variant="\2">',
        page,
    )
    assert [(value, bool(checked)) for _id, value, checked in options] == [
        ("access", False),
        ("door_phone", False),
        ("other", False),
        ("tags", True),
    ]
    nested = re.search(
        r'<input type="radio" id="f-order-delivery--pickup" name="order.delivery" value="pickup"\s*checked '
        r'class="variant-choice">\s*<label for="f-order-delivery--pickup">[^<]+</label>\s*<div class="variant"',
        page,
    )
    assert nested, "the nested delivery variant keeps the same structure"
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    assert ".variant-choice:not(:checked) ~ .variant { display:none; }" in css
    assert "variant" not in (STATIC / "app.js").read_text(encoding="utf-8")  # nothing depends on the script


# --- validation, variant by variant ------------------------------------------------------------------------


def test_access_change_errors_are_on_their_fields_and_the_input_is_kept(
    portal: Portal, world: World, customer: Any
) -> None:
    valid = access_values(portal, world)
    door_phone_holder = adapter_of(portal, world.door_phone).holders()[0]

    errors, page = refused(portal, customer, {**valid, "order.holder": f"{world.door_phone.id}:{door_phone_holder.id}"})
    assert errors == {"order-holder"} and "Välj en lägenhet eller lokal i systemet som är valt ovan." in page
    assert f'value="{valid["order.access_groups"][0]}" checked' in page  # the ticked groups stay ticked

    errors, page = refused(portal, customer, {**valid, "order.holder": f"{world.system.id}:H999"})
    assert errors == {"order-holder"} and "finns inte i systemet" in page
    assert f'<option value="{world.system.id}:H999" selected>' in page  # kept, though not in the list

    errors, page = refused(portal, customer, {**valid, "order.access_groups": [f"{world.system.id}:G99"]})
    assert errors == {"order-access-groups"} and "Välj behörighetsgrupper i listan." in page

    errors, page = refused(portal, customer, {k: v for k, v in valid.items() if k != "order.access_groups"})
    assert errors == {"order-access-groups"} and "Fältet är obligatoriskt." in page

    errors, page = refused(portal, customer, {**valid, "system_id": str(world.door_phone.id)})
    assert "system-id" in errors and "Välj ett passersystem" in page

    errors, _page = refused(portal, customer, {**valid, "system_id": str(world.other_system.id)})
    assert errors == {"system-id"}


def test_door_phone_change_errors(portal: Portal, world: World, customer: Any) -> None:
    errors, page = refused(portal, customer, door_phone_values(world, entry=f"{world.door_phone.id}:P999"))
    assert errors == {"order-entry"} and "Posten finns inte i porttelefonen" in page

    entry = adapter_of(portal, world.door_phone).door_phone_entries()[0]
    errors, page = refused(
        portal,
        customer,
        door_phone_values(
            world, entry=f"{world.door_phone.id}:{entry.id}", **{"order.phone_number": "123", "order.display_name": " "}
        ),
    )
    assert errors == {"order-phone-number", "order-display-name"} and "070-123 45 67" in page
    assert 'value="123"' in page

    errors, page = refused(portal, customer, {**door_phone_values(world), "system_id": str(world.system.id)})
    assert errors == {"system-id"} and "Välj er porttelefon" in page

    errors, _page = refused(portal, customer, door_phone_values(world, **{"order.display_name": "X" * 41}))
    assert errors == {"order-display-name"}


def test_other_change_needs_a_bounded_description(portal: Portal, world: World, customer: Any) -> None:
    base = {"system_id": str(world.system.id), "order": "other"}
    errors, _page = refused(portal, customer, {**base, "order.description": "  \r\n "})
    assert errors == {"order-description"}
    errors, page = refused(portal, customer, {**base, "order.description": "Ändra\r\n" + "x" * 4000})
    assert errors == {"order-description"} and "Använd högst 4000 tecken." in page


def test_tag_order_errors(portal: Portal, world: World, customer: Any, store: Store, closed_store: Store) -> None:
    errors, _page = refused(portal, customer, tag_values(world, **{"order.quantity": "0", **SEND}))
    assert errors == {"order-quantity"}
    errors, page = refused(portal, customer, tag_values(world, **{"order.quantity": "501", **SEND}))
    assert errors == {"order-quantity"} and "Ange 500 eller mindre." in page

    errors, _page = refused(portal, customer, tag_values(world))
    assert errors == {"order-delivery"}  # sent or picked up: one must be chosen

    errors, _page = refused(portal, customer, tag_values(world, **{"order.delivery": "pickup"}))
    assert errors == {"order-delivery-store-id"}
    closed = {"order.delivery": "pickup", "order.delivery.store_id": str(closed_store.id)}
    errors, page = refused(portal, customer, tag_values(world, **closed))
    assert errors == {"order-delivery-store-id"} and "Välj en av butikerna." in page

    no_city = {**SEND, "order.delivery.postcode": "1234", "order.delivery.city": ""}
    errors, page = refused(portal, customer, tag_values(world, **no_city))
    assert errors == {"order-delivery-postcode", "order-delivery-city"}
    assert "Ange ett postnummer med fem siffror" in page and 'value="Storgatan 1"' in page

    errors, _page = refused(portal, customer, tag_values(world, system_id=str(world.door_phone.id), **SEND))
    assert errors == {"system-id"}


def test_an_order_filed_while_the_system_does_not_answer_is_received_and_checked_when_carried_out(
    portal: Portal, world: World, customer: Any, staff: Any
) -> None:
    valid = access_values(portal, world)  # chosen while the system answered
    set_fault(portal.database, world.system.id or 0, Fault.UNAVAILABLE)
    assert customer.get(FORM).status_code == 200  # the form still opens, without that system's holders
    request_id = file_by_web(customer, valid)  # nothing the customer can fix: received, not refused
    set_fault(portal.database, world.system.id or 0)
    carry_out(portal, staff, request_id)
    assert stored(portal, request_id).status == Status.COMPLETED


# --- filing ----------------------------------------------------------------------------------------------------


def test_each_kind_is_filed_by_web_with_its_summary_and_mode(
    portal: Portal, world: World, customer: Any, store: Store
) -> None:
    holder = a_tenant(portal, world)
    access = stored(portal, file_by_web(customer, access_values(portal, world, holder)))
    assert access.summary == f"Behörighet: {holder.name}"
    assert access.system_id == world.system.id
    assert Order().mode_for(access.data) == FulfilmentMode.ON_APPROVAL

    phone = stored(portal, file_by_web(customer, door_phone_values(world)))
    assert phone.summary == "Porttelefon, ny post: NYBERG, 070-765 43 21"
    assert phone.data["order"]["phone_number"] == "+46707654321"
    assert Order().mode_for(phone.data) == FulfilmentMode.ON_APPROVAL

    pickup = {"order.delivery": "pickup", "order.delivery.store_id": str(store.id)}
    tags = stored(portal, file_by_web(customer, tag_values(world, **pickup)))
    assert tags.summary == "Taggbeställning: 20 × Mifare DESFire EV3 bricka"
    assert tags.data["order"] == {
        "kind": "tags",
        "tag_type": "desfire_ev3_fob",
        "quantity": 20,
        "delivery": {"kind": "pickup", "store_id": store.id},
    }
    assert Order().mode_for(tags.data) == FulfilmentMode.MANUAL

    sent = stored(portal, file_by_web(customer, tag_values(world, **SEND)))
    assert sent.data["order"]["delivery"]["postcode"] == "123 45"

    other = {"system_id": str(world.system.id), "order": "other", "order.description": "Öppna porten 7–18\nvardagar"}
    change = stored(portal, file_by_web(customer, other))
    assert change.summary == "Ändring: Öppna porten 7–18" and Order().mode_for(change.data) == FulfilmentMode.MANUAL
    assert Order().modes() == {FulfilmentMode.ON_APPROVAL, FulfilmentMode.MANUAL}


def test_filing_through_the_api(portal: Portal, world: World, web: Any, store: Store) -> None:
    headers = token_for(portal, world.member)
    holder = a_tenant(portal, world)
    group = adapter_of(portal, world.system).access_groups()[0]
    body = {
        "system_id": world.system.id,
        "order": {
            "kind": "access",
            "holder": f"{world.system.id}:{holder.id}",
            "access_groups": [f"{world.system.id}:{group.id}", f"{world.system.id}:{group.id}"],
        },
    }
    response = web.client.post("/api/v1/requests", headers=headers, json={"type": "order", "data": body})
    assert response.status_code == 201, response.text
    assert response.json()["summary"] == f"Behörighet: {holder.name}"
    assert response.json()["data"]["order"]["access_groups"] == [f"{world.system.id}:{group.id}"]  # once

    tags = {
        "system_id": world.system.id,
        "order": {
            "kind": "tags",
            "tag_type": "long_range",
            "quantity": 3,
            "delivery": {"kind": "pickup", "store_id": store.id},
        },
    }
    response = web.client.post("/api/v1/requests", headers=headers, json={"type": "order", "data": tags})
    assert response.status_code == 201, response.text

    bad = {
        "system_id": world.system.id,
        "order": {"kind": "access", "holder": f"{world.system.id}:{holder.id}", "access_groups": []},
    }
    response = web.client.post("/api/v1/requests", headers=headers, json={"type": "order", "data": bad})
    assert response.status_code == 422
    assert response.json()["errors"] == {"order.access_groups": ["Välj minst 1."]}
    bad_store = {**tags, "order": {**tags["order"], "quantity": 600, "delivery": {"kind": "pickup", "store_id": 999}}}
    response = web.client.post("/api/v1/requests", headers=headers, json={"type": "order", "data": bad_store})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"order.quantity"}  # the store is checked once the schema passes
    assert count_requests(portal) == 2


# --- fulfilment -------------------------------------------------------------------------------------------------


def test_permission_change_is_carried_out_on_approval_and_told_to_the_customer(
    portal: Portal, world: World, customer: Any, staff: Any
) -> None:
    system = adapter_of(portal, world.system)
    holder = a_tenant(portal, world)
    groups = system.access_groups()
    wanted = [groups[0], *[g for g in groups[1:] if g.id not in holder.access_group_ids][:1]]  # one group more
    values = {
        **access_values(portal, world, holder),
        "order.access_groups": [f"{world.system.id}:{g.id}" for g in wanted],
    }
    request_id = file_by_web(customer, values)
    outbox.drain(portal)
    assert stored(portal, request_id).status == Status.PENDING  # nothing happens before staff approve

    staff_page = staff.get(f"/staff/requests/{request_id}").text
    assert f"<dd>{holder.name}</dd>" in staff_page  # the holder by name, not by id
    assert ", ".join(g.name for g in wanted) in staff_page

    carry_out(portal, staff, request_id)

    changed = system.holder(holder.id)
    assert changed is not None and set(changed.access_group_ids) == {g.id for g in wanted}
    done = stored(portal, request_id)
    assert done.status == Status.COMPLETED and not done.needs_attention
    chat = messages(portal, request_id)
    customer_lines = [body for body, internal in chat if not internal]
    assert customer_lines == [
        f"Behörigheten för {holder.name} är ändrad: nu gäller {', '.join(g.name for g in wanted)}."
    ]
    notes = [body for body, internal in chat if internal]
    assert len(notes) == 1 and "Systemet genomförde ändringen." in notes[0] and holder.name in notes[0]
    customer_page = customer.get(f"/requests/{request_id}").text
    assert "Slutfört" in customer_page and customer_lines[0] in customer_page
    assert notes[0] not in customer_page  # the adapter's details stay internal


def test_door_phone_changes_are_carried_out_and_a_new_entry_is_added_once(
    portal: Portal, world: World, customer: Any, staff: Any
) -> None:
    door_phone = adapter_of(portal, world.door_phone)
    entry = door_phone.door_phone_entries()[0]
    change = file_by_web(customer, door_phone_values(world, entry=f"{world.door_phone.id}:{entry.id}"))
    carry_out(portal, staff, change)
    updated = next(e for e in door_phone.door_phone_entries() if e.id == entry.id)
    assert (updated.display_name, updated.phone_number) == ("NYBERG", "+46707654321")
    assert stored(portal, change).status == Status.COMPLETED
    assert ("Porttelefonen visar nu NYBERG och ringer 070-765 43 21.", False) in messages(portal, change)

    before = len(door_phone.door_phone_entries())
    added = file_by_web(customer, door_phone_values(world, **{"order.display_name": "LUNDIN  AB"}))
    carry_out(portal, staff, added)
    entries = door_phone.door_phone_entries()
    assert len(entries) == before + 1
    new = next(e for e in entries if e.display_name == "LUNDIN AB")  # blanks collapsed for the display
    line = next(body for body, internal in messages(portal, added) if not internal)
    assert line == f"Porttelefonen har en ny post: LUNDIN AB ringer 070-765 43 21 (kod {new.code})."

    # Idempotent: the hook run again (a redelivery after a crash) adds no second entry and still succeeds.
    again = Order().fulfil(stored(portal, added), fulfilment_context(portal))
    assert again.ok and again.details["changed"] is False
    assert len(door_phone.door_phone_entries()) == before + 1


def fulfilment_context(portal: Portal) -> FulfilmentContext:
    return FulfilmentContext(
        database=portal.database, clock=portal.clock, settings=portal.settings, storage=portal.storage, portal=portal
    )


def test_a_change_the_system_cannot_take_now_is_retried_until_it_can(
    portal: Portal, world: World, customer: Any, staff: Any
) -> None:
    holder = a_tenant(portal, world)
    values = access_values(portal, world, holder, groups=1)
    request_id = file_by_web(customer, values)
    set_fault(portal.database, world.system.id or 0, fail_next=1)

    carry_out(portal, staff, request_id)
    waiting = stored(portal, request_id)
    assert waiting.status == Status.IN_PROGRESS and waiting.fulfilment_running and not waiting.needs_attention
    (note, internal), (told, to_staff) = messages(portal, request_id)
    assert internal and "Systemet svarade inte, så inget ändrades" in note and "Portalen försöker igen" in note
    assert not to_staff and "er beställning utförs så snart det svarar" in told
    unchanged = adapter_of(portal, world.system).holder(holder.id)
    assert unchanged is not None and unchanged.access_group_ids == holder.access_group_ids

    portal.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    outbox.drain(portal)  # the next try: the system answers
    assert stored(portal, request_id).status == Status.COMPLETED
    changed = adapter_of(portal, world.system).holder(holder.id)
    assert changed is not None and list(changed.access_group_ids) == [split_ref(values["order.access_groups"][0])[1]]


def test_a_refused_change_says_a_retry_will_not_help(portal: Portal, world: World, customer: Any, staff: Any) -> None:
    request_id = file_by_web(customer, door_phone_values(world))
    set_fault(portal.database, world.door_phone.id or 0, Fault.REFUSE)
    carry_out(portal, staff, request_id)
    note = messages(portal, request_id)[-1]
    assert note[1] and "Systemet nekade ändringen" in note[0] and "Ett nytt försök ger samma svar" in note[0]
    assert stored(portal, request_id).status == Status.IN_PROGRESS
    done = staff.post(f"/staff/requests/{request_id}/complete", follow_redirects=True)  # settled by hand
    assert "Slutfört" in done.text


def test_a_tag_order_is_done_by_hand_with_the_store_or_address_on_the_staff_page(
    portal: Portal, world: World, customer: Any, staff: Any, store: Store
) -> None:
    pickup = file_by_web(
        customer, tag_values(world, **{"order.delivery": "pickup", "order.delivery.store_id": str(store.id)})
    )
    sent = file_by_web(customer, tag_values(world, **SEND))

    page = staff.get(f"/staff/requests/{pickup}").text
    assert "<dd>Hämta dem i en BBGRUPPEN-butik</dd>" in page
    assert "<dd>BBGRUPPEN Centrum, Drottninggatan 5, Stockholm, Mån–Fre 10–18</dd>" in page
    assert "<dd>Mifare DESFire EV3 bricka</dd>" in page and "<dd>20</dd>" in page
    staff.post(f"/staff/requests/{pickup}/take")
    taken = staff.get(f"/staff/requests/{pickup}").text
    assert "/carry_out" not in taken and "/complete" in taken  # no Utför: staff complete it by hand
    assert staff.post(f"/staff/requests/{pickup}/carry_out").status_code == 409
    assert "Slutfört" in staff.post(f"/staff/requests/{pickup}/complete", follow_redirects=True).text

    with portal.database.writing() as session:  # the store closes later: the order still reads by name
        row = session.get(Store, store.id)
        assert row is not None
        row.active = False
        session.add(row)
    assert "BBGRUPPEN Centrum, Drottninggatan 5" in staff.get(f"/staff/requests/{pickup}").text

    page = staff.get(f"/staff/requests/{sent}").text
    for shown in ("Skicka dem till oss", "Brf Testet, Anna Admin", "Storgatan 1", "123 45", "Testby"):
        assert f"<dd>{shown}</dd>" in page, shown


def test_another_change_is_done_by_hand(portal: Portal, world: World, customer: Any, staff: Any) -> None:
    values = {"system_id": str(world.system.id), "order": "other", "order.description": "Öppna porten 7–18"}
    request_id = file_by_web(customer, values)
    staff.post(f"/staff/requests/{request_id}/take")
    assert staff.post(f"/staff/requests/{request_id}/carry_out").status_code == 409
    staff.post(f"/staff/requests/{request_id}/complete")
    outbox.drain(portal)
    assert stored(portal, request_id).status == Status.COMPLETED


# --- the plugin contract, and the pieces -----------------------------------------------------------------------


def test_order_keeps_the_plugin_contract(portal: Portal, world: World, store: Store) -> None:
    with form_context(portal, world.admin) as context:
        check_request_type(portal.registry.require("order"), context, max_examples=40)


@given(st.from_regex(r"\A[0-9]{3} ?[0-9]{2}\Z"))
def test_postcodes_are_stored_as_three_and_two_digits(written: str) -> None:
    normalised = normalise_postcode(written)
    assert re.fullmatch(r"\d{3} \d{2}", normalised) and normalised.replace(" ", "") == written.replace(" ", "")
    assert normalise_postcode(normalised) == normalised


@pytest.mark.parametrize("written", ["1234", "123456", "12 345", "123  45", "abc de", "１２３ ４５", ""])
def test_other_postcodes_are_refused(written: str) -> None:
    with pytest.raises(ValidationError, match="postcode"):
        OrderForm.model_validate(
            {
                "system_id": 1,
                "order": {
                    "kind": "tags",
                    "tag_type": "desfire_card",
                    "quantity": 1,
                    "delivery": {"kind": "send", "recipient": "A", "street": "B", "postcode": written, "city": "C"},
                },
            }
        )


def test_labels_and_references() -> None:
    tenant = Holder(id="H001", name="Lgh 1102 – Andersson", kind=HolderKind.TENANT, unit="1102")
    company = Holder(id="H040", name="Frisör Lisa AB", kind=HolderKind.COMPANY, unit="Lokal 1")
    assert holder_label(tenant) == "Lgh 1102 – Andersson"
    assert holder_label(company) == "Frisör Lisa AB (Lokal 1)"
    assert split_ref("12:H001") == ("12", "H001")
    assert split_ref("H001") == split_ref("x:H001") == split_ref("12:") == ("", "")
    assert national("+46701234567") == "070-123 45 67"


def test_an_english_customer_reads_the_change_in_english_and_staff_notes_stay_swedish(
    portal: Portal, world: World, customer: Any, staff: Any
) -> None:
    from core.models import User

    with portal.database.writing() as session:
        member = session.get(User, world.member.id)
        assert member is not None
        member.language = "en"
        session.add(member)
    holder = a_tenant(portal, world)
    group = adapter_of(portal, world.system).access_groups()[0]
    values = {**access_values(portal, world, holder), "order.access_groups": [f"{world.system.id}:{group.id}"]}
    request_id = file_by_web(customer, values)
    carry_out(portal, staff, request_id)
    chat = messages(portal, request_id)
    assert [body for body, internal in chat if not internal] == [
        f"The access permissions of {holder.name} are changed: they now have {group.name}."
    ]
    assert all("Systemet genomförde ändringen." in body for body, internal in chat if internal)


def test_a_change_of_access_starts_from_the_holders_groups_and_removing_one_is_confirmed(
    portal: Portal, world: World, customer: Any
) -> None:
    system = adapter_of(portal, world.system)
    holder = next(h for h in system.holders() if len(h.access_group_ids) >= 2)
    names = {g.id: g.name for g in system.access_groups()}
    chosen = {"system_id": str(world.system.id), "order": "access", "order.holder": f"{world.system.id}:{holder.id}"}
    customer.get(FORM)
    page = customer.post(FORM, {**chosen, "step": "refresh:order.holder"}).text  # the button without JavaScript
    for group_id in holder.access_group_ids:
        assert f'value="{world.system.id}:{group_id}" checked' in page  # their groups now, pre-ticked
    assert count_requests(portal) == 0

    removed, kept = holder.access_group_ids[0], list(holder.access_group_ids[1:])
    values = {**chosen, "order.access_groups": [f"{world.system.id}:{g}" for g in kept]}
    confirm = customer.post(FORM, values)
    assert confirm.status_code == 200 and count_requests(portal) == 0  # nothing filed before the confirmation
    text = html.unescape(confirm.text)
    assert f"Tas bort från {holder.name}" in text and names[removed] in text
    assert all(names[g] not in text.split("Tas bort från")[1].split("</li>")[0] for g in kept)

    forged = {**hidden_fields(confirm.text), "confirmed": "0" * 32}
    again = customer.post(FORM, forged)
    assert again.status_code == 409 and count_requests(portal) == 0  # a confirmation of other lines files nothing

    request_id = request_id_of(customer.post(FORM, hidden_fields(confirm.text), follow_redirects=False))
    assert stored(portal, request_id).data["order"]["access_groups"] == [f"{world.system.id}:{g}" for g in kept]
