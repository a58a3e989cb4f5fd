"""A request type from outside ``plugins/`` (tests/plugins/parking_permit) works like a built-in one.

It is installed through the entry-point group, or registered through ``extra_plugins``; its generated
form (with a variant field), validation, request page, the staff queue and the JSON API all work for it.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

import tests.plugins.parking_permit as parking_permit
from core.accounts import administration
from core.models import Store
from core.platform.outbox import OutboxMessage
from core.plugins import ENTRY_POINT_GROUP, build_registry, create_plugin_manager
from core.portal import Portal
from tests.support import World

VALID = {
    "holder_name": "Maja Medlem",
    "registration": "ABC 123",
    "vehicle": "van",
    "months": "6",
    "electric": "on",
    "email": "maja@testet.example",
    "phone": "070-123 45 67",
    "notes": "Plats 14 om den är ledig.",
}
BY_POST = {"delivery": "post", "delivery.address": "Storgatan 1, Testby", "delivery.postcode": "12345"}


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [parking_permit]


@pytest.fixture
def store(portal: Portal) -> Store:
    with portal.database.writing() as session:
        return administration.create_store(
            session, {"name": "Butik Centrum", "address": "Drottninggatan 5", "opening_hours": "10–18"}
        )


def request_id_of(response: Any) -> int:
    assert response.status_code == 302, response.text
    found = re.fullmatch(r"/requests/(\d+)(\?.*)?", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


def error_ids(html: str) -> set[str]:
    return set(re.findall(r'<p class="field-error" id="f-([\w-]+)-error"', html))


# --- (a) installed through the entry-point group ---------------------------------------------------


def test_installed_through_the_entry_point_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert create_plugin_manager().get_plugin("parking_permit") is None

    dist_info = tmp_path / "bbportal_parking_permit-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: bbportal-parking-permit\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nparking_permit = tests.plugins.parking_permit\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()  # importlib.metadata caches what it found on each sys.path entry

    manager = create_plugin_manager()
    assert manager.get_plugin("parking_permit") is parking_permit
    registry = build_registry(manager)
    assert "parking_permit" in registry and "fault_report" in registry

    blocked = create_plugin_manager(blocked=["parking_permit"])
    assert "parking_permit" not in build_registry(blocked)


# --- (b) registered through extra_plugins: start page, form, validation, filing, request page ------


def test_it_is_a_tile_on_the_start_page(world: World, web: Any) -> None:
    web.login(world.member.email)
    start = web.get("/")

    assert start.status_code == 200
    assert 'href="/requests/new/parking_permit"' in start.text
    assert "Parkeringstillstånd" in start.text  # the plugin's own sv catalog
    assert "Ansök om tillstånd att parkera" in start.text


def test_the_generated_form_has_every_field_and_both_variants(world: World, web: Any, store: Store) -> None:
    web.login(world.member.email)
    form = web.get("/requests/new/parking_permit")

    assert form.status_code == 200
    for name in (
        "holder_name",
        "registration",
        "vehicle",
        "months",
        "electric",
        "email",
        "phone",
        "notes",
        "delivery.address",
        "delivery.postcode",
        "delivery.store_id",
        "delivery.pickup_on",
    ):
        assert f'name="{name}"' in form.text, name
    assert 'type="radio" id="f-delivery--post" name="delivery" value="post"' in form.text
    assert 'type="radio" id="f-delivery--pickup" name="delivery" value="pickup"' in form.text
    assert "Skicka med post" in form.text and "Hämta i butik" in form.text
    assert 'type="email"' in form.text and 'type="tel"' in form.text and 'type="checkbox"' in form.text
    assert 'min="1"' in form.text and 'max="24"' in form.text  # the int's bounds
    assert "Skåpbil (högst 3,5 ton)" in form.text  # enum_labels, translated
    assert f'<option value="{store.id}"' in form.text and "Butik Centrum, Drottninggatan 5" in form.text
    assert "<textarea" in form.text


def test_an_invalid_submission_shows_errors_under_the_variant_fields(world: World, web: Any) -> None:
    web.login(world.member.email)
    web.get("/requests/new/parking_permit")
    values = {
        **VALID,
        "months": "30",
        "email": "inte-en-adress",
        "delivery": "post",
        "delivery.address": "",
        "delivery.postcode": "12",
    }

    response = web.post("/requests/new/parking_permit", values)

    assert response.status_code == 422
    assert error_ids(response.text) == {"months", "email", "delivery-address", "delivery-postcode"}
    assert "Ange ett postnummer med fem siffror" in response.text
    assert 'value="inte-en-adress"' in response.text  # what was typed is kept
    assert re.search(r'name="delivery" value="post"\s+checked', response.text)  # the chosen variant stays


def test_a_missing_variant_and_an_unknown_store_are_field_errors(world: World, web: Any, store: Store) -> None:
    web.login(world.member.email)
    web.get("/requests/new/parking_permit")

    no_variant = web.post("/requests/new/parking_permit", VALID)
    assert no_variant.status_code == 422
    assert error_ids(no_variant.text) == {"delivery"}

    pick_up_elsewhere = {"delivery": "pickup", "delivery.store_id": str((store.id or 0) + 99)}
    unknown_store = web.post("/requests/new/parking_permit", {**VALID, **pick_up_elsewhere})
    assert unknown_store.status_code == 422
    assert error_ids(unknown_store.text) == {"delivery-store-id"}
    assert "Välj en av butikerna." in unknown_store.text  # the type's own validate(), translated


def test_a_valid_submission_by_post_is_filed_and_shown(world: World, web: Any) -> None:
    web.login(world.member.email)
    web.get("/requests/new/parking_permit")

    request_id = request_id_of(web.post("/requests/new/parking_permit", {**VALID, **BY_POST}, follow_redirects=False))
    page = web.get(f"/requests/{request_id}").text

    assert "ABC 123 – Maja Medlem" in page  # the summary
    stored_values = (
        "Parkeringstillstånd",
        "Skåpbil (högst 3,5 ton)",
        "6",
        "maja@testet.example",
        "070-123 45 67",  # stored as E.164, shown as people write it
        "Skicka med post",
        "Storgatan 1, Testby",
        "123 45",  # the postcode as normalised by its validator
        "Plats 14 om den är ledig.",
    )
    for shown in stored_values:
        assert f"<dd>{shown}</dd>" in page or f'<dd class="multiline">{shown}</dd>' in page, shown
    assert "<dt>Elfordon (behöver laddplats)</dt><dd>Ja</dd>" in page


def test_a_valid_submission_with_pick_up_is_filed_and_shown(
    world: World, web: Any, portal: Portal, store: Store
) -> None:
    web.login(world.member.email)
    web.get("/requests/new/parking_permit")
    values = {
        **VALID,
        "electric": "",
        "delivery": "pickup",
        "delivery.store_id": str(store.id),
        "delivery.pickup_on": "2026-12-01",
        # the other variant's fields are in the page too; only the chosen variant's are read
        "delivery.address": "ignored",
        "delivery.postcode": "x",
    }

    request_id = request_id_of(web.post("/requests/new/parking_permit", values, follow_redirects=False))
    page = web.get(f"/requests/{request_id}").text

    assert "<dd>Hämta i butik</dd>" in page
    assert "<dd>2026-12-01</dd>" in page
    assert "<dt>Elfordon (behöver laddplats)</dt><dd>Nej</dd>" in page
    assert "ignored" not in page
    with portal.database.reading() as session:
        from core.models import Request

        stored = session.get(Request, request_id)
        assert stored is not None
        assert stored.data["delivery"] == {"kind": "pickup", "store_id": store.id, "pickup_on": "2026-12-01"}
        assert stored.data["electric"] is False


# --- (c) through the queue, and the JSON API ----------------------------------------------------------


def test_staff_take_and_complete_it_and_the_customer_sees_it_done(world: World, make_web: Any, portal: Portal) -> None:
    customer = make_web()
    customer.login(world.member.email)
    customer.get("/requests/new/parking_permit")
    request_id = request_id_of(
        customer.post("/requests/new/parking_permit", {**VALID, **BY_POST}, follow_redirects=False)
    )

    staff = make_web()
    staff.login(world.staff.email)
    queue = staff.get("/staff/queue")
    assert f'href="/staff/requests/{request_id}"' in queue.text
    assert "ABC 123 – Maja Medlem" in queue.text and "Parkeringstillstånd" in queue.text

    taken = staff.post(f"/staff/requests/{request_id}/take", follow_redirects=True)
    assert "Under hantering" in taken.text
    done = staff.post(f"/staff/requests/{request_id}/complete", follow_redirects=True)
    assert "Slutfört" in done.text

    assert "Slutfört" in customer.get(f"/requests/{request_id}").text
    with portal.database.reading() as session:  # the plugin's bbportal_status_changed observer ran
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "parking_permit.issued"))
        issued = [row.payload["request_id"] for row in rows]
    assert issued == [request_id]


def test_the_json_api_serves_its_json_schema(world: World, web: Any) -> None:
    web.login(world.member.email)

    listed = web.get("/api/v1/request-types")
    assert listed.status_code == 200
    assert "parking_permit" in [t["key"] for t in listed.json()]

    response = web.get("/api/v1/request-types/parking_permit")
    assert response.status_code == 200
    body = response.json()
    assert body["fulfilment_mode"] == "manual"
    schema = body["json_schema"]
    assert schema["properties"]["months"]["minimum"] == 1 and schema["properties"]["months"]["maximum"] == 24
    assert schema["properties"]["email"]["format"] == "email"
    assert schema["properties"]["delivery"]["discriminator"]["propertyName"] == "kind"
    assert {"SendByPost", "PickUp"} <= set(schema["$defs"])
