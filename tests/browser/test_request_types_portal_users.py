"""Hantering av portalanvändare in a real browser: an administrator asks for a new user of the portal."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

REQUEST_URL = re.compile(r"/requests/(\d+)(\?.*)?$")


def test_an_administrator_asks_for_a_new_user(sign_in: Any, pages: Any, world: Any, viewport: dict[str, int]) -> None:
    width = viewport["width"]  # the story runs at each width against one database: an address of its own each time
    page = sign_in(world.admin.email, who="administrator")
    page.goto("/")
    page.get_by_role("link", name=re.compile("Hantering av portalanvändare")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hantering av portalanvändare")

    # Only the chosen task's fields show (with JavaScript); the radio buttons choose the task.
    add = page.get_by_role("radio", name="Lägg till en användare")
    expect(add).to_be_visible()
    expect(page.get_by_label(re.compile(r"^Namn"))).to_be_hidden()
    add.check()
    page.get_by_label(re.compile(r"^Namn")).fill("Berit Webbläsare")
    page.get_by_label(re.compile(r"^E-postadress")).fill(f"Berit.Webb{width}@Testet.Example")
    page.get_by_label(re.compile(r"^Roll")).select_option(label="Administratör")
    expect(page.get_by_label(re.compile(r"^Användare"))).to_be_hidden()  # the "remove" task's field
    pages.check(page, "add a user form filled in")

    page.get_by_role("button", name="Skicka ärendet").click()
    expect(page).to_have_url(REQUEST_URL)
    pages.check(page, "add a user request filed")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"Lägg till: Berit Webbläsare (berit.webb{width}@testet.example)"
    )
    data = page.locator("dl.data")
    expect(data).to_contain_text("Lägg till en användare")
    expect(data).to_contain_text(f"berit.webb{width}@testet.example")  # lower-cased, as it will be stored
    expect(data).to_contain_text("Administratör")
    expect(page.locator("dl.facts .status")).to_have_text("Väntar på hantering")


def test_a_member_is_not_offered_the_tile(sign_in: Any, pages: Any, world: Any) -> None:
    page = sign_in(world.member.email, who="member")
    page.goto("/")
    expect(page.get_by_role("link", name=re.compile("Felanmälan"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Hantering av portalanvändare"))).to_have_count(0)
    response = page.goto("/requests/new/portal_users")
    assert response is not None and response.status == 404
