"""Billing through the pages and the API: admin price lists and agreements, the cost before sending, charges on
the request, staff corrections, the invoice basis with its CSV, closing a month."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest

from core.billing import invoicing
from core.platform.clock import FixedClock
from core.portal import Portal
from tests.billing_support import charges, complete, price_form, seed_agreement, seed_prices
from tests.integration.test_api import token_for
from tests.plugins.sample_types import BillingSamplePlugin
from tests.support import World

NBSP = "\xa0"


def kr(text: str) -> str:
    """Amounts as Babel writes them in Swedish: no-break spaces between groups and before "kr"."""
    return text.replace(" ", NBSP)


def text_of(html: str) -> str:
    """The page's text with tags dropped and entities decoded (what a reader sees, roughly)."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [BillingSamplePlugin()]


def filed_id(response: Any) -> int:
    assert response.status_code == 302, response.text[:2000]
    return int(response.headers["location"].split("?")[0].rsplit("/", 1)[1])


def test_admins_keep_price_lists_with_field_errors_for_overlaps_and_negative_prices(
    world: World, make_web: Any
) -> None:
    admin, staff = make_web(), make_web()
    admin.login(world.staff_admin.email)
    staff.login(world.staff.email)
    assert staff.get("/admin/price-lists").status_code == 403
    assert "Ny prislista" in admin.get("/admin/price-lists").text

    form = price_form()
    form["items-1-unit_price"] = "-50"
    refused = admin.post("/admin/price-lists", form)
    assert refused.status_code == 422
    assert re.search(r'id="f-items-1-unit-price-error">Ange priset i kronor exklusive moms', refused.text)
    assert 'value="Prislista 2026"' in refused.text  # nothing typed is lost

    created = admin.post("/admin/price-lists", price_form(), follow_redirects=False)
    assert created.status_code == 302
    list_url = created.headers["location"].split("?")[0]
    page = admin.get(list_url).text
    assert "Ändringsbeställning" in page and kr("450,00 kr") in page

    overlapping = price_form(
        name="Prislista 2027", valid_from="2026-12-01", prices={"TAG": ("Tagg", "Tag", "piece", "150", "25")}
    )
    clash = admin.post("/admin/price-lists", overlapping)
    assert clash.status_code == 422
    assert re.search(r'id="f-items-0-code-error">TAG har redan ett pris i Prislista 2026', clash.text)

    more = admin.post("/admin/price-lists", {**overlapping, "more": "1"})
    assert more.status_code == 200 and 'name="items-11-code"' in more.text

    ended_in_the_past = admin.post(f"{list_url}/end", {"valid_to": "2026-11-01"})
    assert ended_in_the_past.status_code == 422 and "Välj 2026-11-27 eller senare" in ended_in_the_past.text
    assert admin.post(f"{list_url}/end", {"valid_to": "2026-11-30"}, follow_redirects=False).status_code == 302
    assert admin.post("/admin/price-lists", overlapping, follow_redirects=False).status_code == 302

    copy_id = list_url.rsplit("/", 1)[1]
    copied = admin.get(f"/admin/price-lists/new?copy={copy_id}").text
    assert 'value="FAULT_CUSTOMER"' in copied and 'value="950,00"' in copied


def test_admins_keep_agreements_per_organisation_without_overlaps(portal: Portal, world: World, web: Any) -> None:
    seed_prices(portal)
    web.login(world.staff_admin.email)
    url = f"/admin/organisations/{world.org.id}/agreements"
    assert "Avtal och debiteringsvillkor" in web.get(f"/admin/organisations/{world.org.id}").text
    bad = web.post(
        url,
        {"valid_from": "2026-01-01", "discount": "150", "quota-0-code": "NOPE", "quota-0-per_month": "0"},
    )
    assert bad.status_code == 422
    assert "Ange en procentsats från 0 till 100" in bad.text
    assert "Ingen prislista har en artikel med den koden." in bad.text
    assert "Ange ett heltal från 1 till 10000." in bad.text
    saved = web.post(
        url,
        {
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "discount": "12,5",
            "quota-0-code": "CHANGE_ORDER",
            "quota-0-per_month": "5",
            "included_types": ["fault_report", "sample_billable"],
            "requires_approval": "on",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 302
    page = web.get(url).text
    assert "5 × CHANGE_ORDER" in page and "12,5 %" in page and "Felanmälan, Billable sample" in page
    overlap = web.post(url, {"valid_from": "2026-06-01"})
    assert overlap.status_code == 422
    assert "Organisationen har redan ett avtal för 2026-01-01 – 2026-12-31" in overlap.text
    assert web.post(url, {"valid_from": "2027-01-01"}, follow_redirects=False).status_code == 302


def test_the_customer_sees_the_cost_under_their_agreement_before_sending(
    portal: Portal, world: World, web: Any
) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, quotas={"CHANGE_ORDER": 5}, discount="10")
    web.login(world.member.email)
    form = {"tags": "10", "send": "on", "change_orders": "0"}
    confirm = web.post("/requests/new/sample_billable", form)
    assert confirm.status_code == 200
    # 10 tags at 120 kr and postage 50 kr, less 10 %: 1 125,00 kr excluding VAT.
    assert f"Beräknad kostnad: {kr('1 125,00 kr')} exkl. moms" in confirm.text
    assert "Rabatt 10 %" in confirm.text and "Summa inkl. moms" in confirm.text
    assert 'name="tags" value="10"' in confirm.text

    back = web.post("/requests/new/sample_billable", {**form, "step": "edit"})
    assert back.status_code == 200 and 'value="10"' in back.text and "Beräknad kostnad" not in back.text

    fingerprint = re.search(r'name="estimate" value="([0-9a-f]+)"', confirm.text)
    assert fingerprint is not None
    request_id = filed_id(
        web.post("/requests/new/sample_billable", {**form, "estimate": fingerprint.group(1)}, follow_redirects=False)
    )
    page = web.get(f"/requests/{request_id}").text
    assert "Beräknad när ärendet skickades" in page and kr("1 125,00 kr") in page

    quota = web.post("/requests/new/sample_billable", {"tags": "1", "change_orders": "1"})
    assert "Ingår i ert avtal (5 av 5 kvar denna månad)" in quota.text


def test_a_changed_cost_is_shown_again_instead_of_being_filed(portal: Portal, world: World, make_web: Any) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, quotas={"CHANGE_ORDER": 1})
    first, second = make_web(), make_web()
    first.login(world.member.email)
    second.login(world.admin.email)
    form = {"tags": "1", "change_orders": "1"}
    seen = first.post("/requests/new/sample_billable", form)
    assert "Ingår i ert avtal (1 av 1 kvar denna månad)" in seen.text
    other = second.post("/requests/new/sample_billable", form)
    filed_id(
        second.post(
            "/requests/new/sample_billable", {**form, "estimate": _fingerprint(other.text)}, follow_redirects=False
        )
    )
    again = first.post("/requests/new/sample_billable", {**form, "estimate": _fingerprint(seen.text)})
    assert again.status_code == 409
    assert "Kostnaden har ändrats sedan ni såg den." in again.text
    assert "Månadens 1 som ingår är förbrukade" in again.text
    assert len(charges(portal)) == 0
    filed_id(
        first.post(
            "/requests/new/sample_billable", {**form, "estimate": _fingerprint(again.text)}, follow_redirects=False
        )
    )


def _fingerprint(html: str) -> str:
    found = re.search(r'name="estimate" value="([0-9a-f]+)"', html)
    assert found is not None, html[:3000]
    return found.group(1)


def test_a_request_that_costs_nothing_is_filed_at_once(portal: Portal, world: World, web: Any) -> None:
    seed_prices(portal)
    web.login(world.member.email)
    fields = {k: str(v) for k, v in world.fault().items()}
    request_id = filed_id(web.post("/requests/new/fault_report", fields, follow_redirects=False))
    assert 'id="charges-title"' not in web.get(f"/requests/{request_id}").text


def test_charges_on_completion_with_staff_corrections_on_the_request_page(
    portal: Portal, world: World, make_web: Any
) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, discount="10")
    customer, staff = make_web(), make_web()
    customer.login(world.member.email)
    staff.login(world.staff.email)
    confirm = customer.post("/requests/new/sample_billable", {"tags": "5"})
    request_id = filed_id(
        customer.post(
            "/requests/new/sample_billable",
            {"tags": "5", "estimate": _fingerprint(confirm.text)},
            follow_redirects=False,
        )
    )
    assert "Lägg till debitering" not in staff.get(f"/staff/requests/{request_id}").text  # not before completion
    complete(portal, world.staff, request_id)
    (line,) = charges(portal, request_id)
    customer_page = customer.get(f"/requests/{request_id}").text
    assert kr("540,00 kr") in customer_page and "Slutlig" in customer_page and "Fakturamånad 2026-11" in customer_page
    assert "Kreditera" not in customer_page

    page = staff.get(f"/staff/requests/{request_id}").text
    assert "Lägg till debitering" in page and "Kreditera rad 1" in page
    missing_reason = staff.post(f"/staff/requests/{request_id}/charges/{line.id}/credit", {"reason": " "})
    assert missing_reason.status_code == 422
    assert re.search(rf'id="credit-{line.id}-reason-error">Ange en anledning', missing_reason.text)
    adjusted = staff.post(
        f"/staff/requests/{request_id}/charges/{line.id}/adjust",
        {"quantity": "4", "unit_price": "120,00", "reason": "En tagg var trasig"},
    )
    assert adjusted.status_code == 200 and "Raden är krediterad och ersatt." in adjusted.text
    page = adjusted.text
    assert "Kreditering" in page and "Justering" in page and "En tagg var trasig" in page
    twice = staff.post(f"/staff/requests/{request_id}/charges/{line.id}/credit", {"reason": "igen"})
    assert twice.status_code == 409 and "Raden är redan krediterad." in twice.text

    item_id = re.search(r'<option value="(\d+)">Felanmälan orsakad av kund', page)
    assert item_id is not None
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)
    assert nonce is not None
    add = {
        "price_item_id": item_id.group(1),
        "quantity": "1",
        "reason": "Kunden hade kilat upp dörren",
        "nonce": nonce.group(1),
    }
    for _ in range(2):  # the same form sent twice adds one line
        assert staff.post(f"/staff/requests/{request_id}/charges", add, follow_redirects=False).status_code == 302
    kinds = [(c.kind, c.quantity, c.amount_ore) for c in charges(portal, request_id)]
    assert kinds == [("request", 5, 54000), ("credit", -5, -54000), ("adjustment", 4, 43200), ("staff", 1, 85500)]
    customer_page = text_of(customer.get(f"/requests/{request_id}").text)
    assert "Kunden hade kilat upp dörren" in customer_page and "Krediterad" in customer_page


def test_charges_needing_approval_wait_for_staff(portal: Portal, world: World, make_web: Any) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, approval=True)
    customer, staff = make_web(), make_web()
    customer.login(world.member.email)
    staff.login(world.staff.email)
    confirm = customer.post("/requests/new/sample_billable", {"tags": "2"})
    request_id = filed_id(
        customer.post(
            "/requests/new/sample_billable",
            {"tags": "2", "estimate": _fingerprint(confirm.text)},
            follow_redirects=False,
        )
    )
    complete(portal, world.staff, request_id)
    assert "Väntar på godkännande" in customer.get(f"/requests/{request_id}").text
    assert staff.post(f"/staff/requests/{request_id}/charges/approve", follow_redirects=False).status_code == 302
    assert [c.state for c in charges(portal, request_id)] == ["final"]
    again = staff.post(f"/staff/requests/{request_id}/charges/approve")
    assert again.status_code == 409


def test_invoice_basis_page_csv_and_closing_the_month(
    portal: Portal, world: World, make_web: Any, clock: FixedClock
) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, discount="12,5")
    from core.workflow import actions as workflow

    filed = workflow.file(portal, world.member, "sample_billable", {"tags": 3, "send": True}, None)
    complete(portal, world.staff, filed.id or 0)
    admin, staff = make_web(), make_web()
    admin.login(world.staff_admin.email)
    staff.login(world.staff.email)
    assert staff.get("/admin/invoicing").status_code == 403

    overview = admin.get("/admin/invoicing?month=2026-11").text
    assert "Brf Testet" in overview and kr("358,75 kr") in overview  # 315,00 + 43,75 excluding VAT
    assert "Stäng 2026-11" not in overview  # the month has not ended
    basis_url = f"/admin/invoicing/2026-11/{world.org.id}"
    page = admin.get(basis_url).text
    assert kr("448,44 kr") in page  # 358,75 + VAT 89,69 (per line: 78,75 + 10,94)

    exported = admin.get(f"{basis_url}/csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="fakturaunderlag-' in exported.headers["content-disposition"]
    body = exported.content.decode("utf-8")
    assert body.startswith("\ufeffMånad;Organisation;Organisationsnummer;Begäran;")
    rows = body.lstrip("\ufeff").split("\r\n")
    assert rows[1].split(";")[5:16] == [
        "TAG",
        "Tagg",
        "",
        "3",
        "st",
        "120,00",
        "12,50",
        "315,00",
        "25",
        "78,75",
        "393,75",
    ]
    assert rows[3].split(";")[3] == "Summa" and rows[3].split(";")[12:16] == ["358,75", "", "89,69", "448,44"]

    assert admin.get("/admin/invoicing/2026-11/close").status_code == 200
    early = admin.post("/admin/invoicing/2026-11/close")
    assert early.status_code == 409 and "En månad kan stängas först när den är slut." in early.text

    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    assert "Stäng 2026-11" in admin.get("/admin/invoicing?month=2026-11").text
    assert admin.post("/admin/invoicing/2026-11/close", follow_redirects=False).status_code == 302
    assert "Stängd" in admin.get(basis_url).text
    tag_line = charges(portal, filed.id)[0]
    staff.post(f"/staff/requests/{filed.id}/charges/{tag_line.id}/credit", {"reason": "Fel system"})
    with portal.database.reading() as session:
        november = invoicing.invoice_basis(session, world.org.id or 0, datetime(2026, 11, 1).date())
        december = invoicing.invoice_basis(session, world.org.id or 0, datetime(2026, 12, 1).date())
    assert november.totals.amount_ore == 35875
    assert december.totals.amount_ore == -31500
    assert admin.post("/admin/invoicing/2026-11/close").status_code == 409


def test_the_api_gives_the_estimate_the_charges_and_the_invoice_basis(portal: Portal, world: World, web: Any) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, quotas={"CHANGE_ORDER": 5})
    member, staff, admin = (token_for(portal, u) for u in (world.member, world.staff, world.staff_admin))
    body = {"type": "sample_billable", "data": {"tags": 2, "send": True, "change_orders": 1}}
    estimate = web.client.post("/api/v1/estimates", headers=member, json=body)
    assert estimate.status_code == 200, estimate.text
    result = estimate.json()
    assert result["amount_ore"] == 29000 and result["vat_ore"] == 7250 and result["total_ore"] == 36250
    assert result["headline"] == f"Beräknad kostnad: {kr('290,00 kr')} exkl. moms"
    assert [(line["code"], line["included"], line["quota_remaining"]) for line in result["lines"]] == [
        ("TAG", "", None),
        ("POSTAGE", "", None),
        ("CHANGE_ORDER", "quota", 5),
    ]
    invalid = web.client.post("/api/v1/estimates", headers=member, json={**body, "data": {"tags": 0}})
    assert invalid.status_code == 422 and "tags" in invalid.json()["errors"]
    assert web.client.post("/api/v1/estimates", headers=staff, json=body).status_code == 404

    stale = web.client.post("/api/v1/requests", headers=member, json={**body, "expected_estimate": "0" * 32})
    assert stale.status_code == 409
    filed = web.client.post(
        "/api/v1/requests", headers=member, json={**body, "expected_estimate": result["fingerprint"]}
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    complete(portal, world.staff, request_id)
    charged = web.client.get(f"/api/v1/requests/{request_id}/charges", headers=member).json()
    assert charged["amount_ore"] == 29000 and len(charged["lines"]) == 3
    outsider = token_for(portal, world.outsider)
    assert web.client.get(f"/api/v1/requests/{request_id}/charges", headers=outsider).status_code == 404

    line_id = charged["lines"][0]["id"]
    credited = web.client.post(
        f"/api/v1/requests/{request_id}/charges/{line_id}/credit", headers=staff, json={"reason": "Avtalat pris"}
    )
    assert credited.status_code == 200 and credited.json()["amount_ore"] == 29000 - 24000
    assert (
        web.client.post(
            f"/api/v1/requests/{request_id}/charges/{line_id}/credit", headers=member, json={"reason": "x"}
        ).status_code
        == 404
    )

    documented = web.client.get("/schema/openapi.json").json()["paths"]
    assert {"/api/v1/estimates", "/api/v1/requests/{request_id}/charges"} <= set(documented)
    basis = web.client.get(f"/api/v1/invoice-basis/2026-11/{world.org.id}", headers=admin)
    assert basis.status_code == 200
    assert basis.json()["total_ore"] == (29000 - 24000) * 125 // 100 and basis.json()["closed"] is False
    assert web.client.get(f"/api/v1/invoice-basis/2026-11/{world.org.id}", headers=staff).status_code == 403
    assert web.client.get(f"/api/v1/invoice-basis/2026-13/{world.org.id}", headers=admin).status_code == 404


def test_the_invoice_basis_csv_writes_names_and_reasons_as_text_never_formulas(
    portal: Portal, world: World, make_web: Any
) -> None:
    from core.models import Organisation

    seed_prices(portal)
    seed_agreement(portal, world.org)
    with portal.database.writing() as session:
        org = session.get(Organisation, world.org.id)
        assert org is not None
        org.name = '=HYPERLINK("http://evil.example","Brf")'
        session.add(org)
    from core.workflow import actions as workflow

    filed = workflow.file(portal, world.member, "sample_billable", {"tags": 2}, None)
    complete(portal, world.staff, filed.id or 0)
    staff, admin = make_web(), make_web()
    staff.login(world.staff.email)
    admin.login(world.staff_admin.email)
    line = charges(portal, filed.id)[0]
    staff.post(f"/staff/requests/{filed.id}/charges/{line.id}/credit", {"reason": "@SUM(1+1)*cmd|' /C calc'!A0"})
    body = admin.get(f"/admin/invoicing/2026-11/{world.org.id}/csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body, newline=""), delimiter=";"))
    assert len(rows) == 4 and {row[1] for row in rows[1:]} == {"'" + org.name}
    credit = rows[2]
    assert credit[17] == "'@SUM(1+1)*cmd|' /C calc'!A0" and credit[12] == "-240,00"  # a credit stays a number
