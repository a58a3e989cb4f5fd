"""Beställning in a real browser: a tag order picked up in a store, a permission change, and the form without
JavaScript (the variants switch by CSS alone). Every page is screenshotted and checked with axe-core.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from core.access_control import HolderKind
from core.accounts import administration
from core.models import Store
from tests.browser.test_flows import REQUEST_URL, send, status_of

pytestmark = pytest.mark.browser

FORM = "/requests/new/order"
STORE = {"name": "BBGRUPPEN Södermalm", "address": "Götgatan 10, Stockholm", "opening_hours": "Mån–Fre 10–18"}


@pytest.fixture
def store(live_server: Any) -> Store:
    """One open store in the live portal (created once per session; the portal is shared)."""
    from sqlmodel import select

    with live_server.portal.database.writing() as session:
        found = session.exec(select(Store).where(Store.name == STORE["name"])).first()
        return found or administration.create_store(session, dict(STORE))


def label(text: str) -> re.Pattern[str]:
    """A field's label starts with its name; "(obligatoriskt)" may follow."""
    return re.compile(rf"^{re.escape(text)}")


def settled(page: Page) -> None:
    """The form's update after a choice (a system's lists, a holder's groups) has arrived."""
    expect(page.locator("form.request-form[aria-busy]")).to_have_count(0)


def choose_kind(page: Page, kind: str) -> None:
    page.get_by_role("radio", name=kind, exact=True).check()


def test_customer_orders_tags_for_pick_up_and_a_permission_change(
    sign_in: Any, pages: Any, world: Any, live_server: Any, store: Store
) -> None:
    page = sign_in(world.member.email, who="customer")
    page.goto("/")
    page.get_by_role("link", name=re.compile("Beställning")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Beställning")
    expect(page.get_by_label(label("Antal"))).to_be_hidden()  # no kind chosen yet: no kind's fields
    pages.check(page, "order form")

    # A tag order, picked up in a store: only the tag order's fields show, then only the pick-up's.
    page.get_by_label(label("System")).select_option(label="Passersystem A")
    choose_kind(page, "Beställning av taggar")
    expect(page.get_by_label(label("Vems behörighet"))).to_be_hidden()
    page.get_by_label(label("Typ av tagg")).select_option(label="Mifare DESFire EV3 bricka")
    page.get_by_label(label("Antal")).fill("20")
    choose_kind(page, "Hämta dem i en BBGRUPPEN-butik")
    expect(page.get_by_label(label("Gatuadress"))).to_be_hidden()
    page.get_by_label(label("Butik")).select_option(label="BBGRUPPEN Södermalm, Götgatan 10, Stockholm, Mån–Fre 10–18")
    pages.check(page, "tag order filled in")
    send(page)
    expect(page).to_have_url(REQUEST_URL)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Taggbeställning: 20 × Mifare DESFire EV3 bricka")
    expect(page.locator("dl.data")).to_contain_text("BBGRUPPEN Södermalm, Götgatan 10, Stockholm")
    pages.check(page, "tag order filed")
    match = REQUEST_URL.search(page.url)
    assert match

    # Staff see where the tags go: the store by name, address and opening hours; no Utför, done by hand.
    handler = sign_in(world.staff.email, who="staff")
    handler.goto(f"/staff/requests/{match.group(1)}")
    expect(handler.locator("dl.data")).to_contain_text("BBGRUPPEN Södermalm, Götgatan 10, Stockholm, Mån–Fre 10–18")
    handler.get_by_role("button", name="Ta ärendet").click()
    expect(handler.get_by_role("button", name="Slutför", exact=True)).to_be_visible()
    expect(handler.get_by_role("button", name="Utför", exact=True)).to_have_count(0)
    pages.check(handler, "staff see the tag order")

    # A permission change: a tenant of the system, and the groups they should have.
    adapter = live_server.portal.access_control(world.system)
    tenant = next(h for h in adapter.holders() if h.kind == HolderKind.TENANT)
    groups = adapter.access_groups()[:2]
    page.goto(FORM)
    page.get_by_label(label("System")).select_option(label="Passersystem A")
    choose_kind(page, "Ändring av behörighet")
    page.get_by_label(label("Vems behörighet")).select_option(label=tenant.name)
    settled(page)  # their current groups are ticked by now
    for group in groups:
        page.get_by_role("checkbox", name=group.name, exact=True).check()
    pages.check(page, "permission change filled in")
    send(page)
    expect(page).to_have_url(REQUEST_URL)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Behörighet: {tenant.name}")
    for group in groups:
        expect(page.locator("dl.data")).to_contain_text(group.name)
    pages.check(page, "permission change filed")


def test_the_kinds_switch_without_javascript(sign_in: Any, pages: Any, world: Any, store: Store) -> None:
    page = sign_in(world.member.email, who="no-js customer", java_script_enabled=False)
    page.goto(FORM)
    assert page.evaluate("() => document.documentElement.classList.contains('js')") is False
    for hidden in ("Vems behörighet", "Vilken post", "Vad ska ändras", "Antal"):
        expect(page.get_by_label(label(hidden))).to_be_hidden()

    choose_kind(page, "Beställning av taggar")
    expect(page.get_by_label(label("Antal"))).to_be_visible()
    choose_kind(page, "Skicka dem till oss")
    expect(page.get_by_label(label("Gatuadress"))).to_be_visible()
    expect(page.get_by_label(label("Butik"))).to_be_hidden()
    choose_kind(page, "Hämta dem i en BBGRUPPEN-butik")
    expect(page.get_by_label(label("Gatuadress"))).to_be_hidden()
    expect(page.get_by_label(label("Butik"))).to_be_visible()
    pages.check(page, "tag order without javascript")

    choose_kind(page, "Ändring i porttelefonen")
    expect(page.get_by_label(label("Antal"))).to_be_hidden()
    expect(page.get_by_label(label("Vilken post"))).to_be_visible()
    page.get_by_label(label("System")).select_option(label="Porttelefon A")
    page.get_by_label(label("Vilken post")).select_option(label="Ny post")
    page.get_by_label(label("Namn i displayen")).fill("LUNDIN")
    page.get_by_label(label("Telefonnummer")).fill("070-111 22 33")
    pages.check(page, "door-phone change without javascript")
    send(page)
    expect(page).to_have_url(REQUEST_URL)
    assert status_of(page) == "Väntar på hantering"
    expect(page.get_by_role("heading", level=1)).to_contain_text("Porttelefon, ny post: LUNDIN, 070-111 22 33")
    pages.check(page, "door-phone change filed without javascript")
