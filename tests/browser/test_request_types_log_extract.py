"""Begäran om utdrag/logg in a real browser: the form with its nested choices, filled in, and the finished extract."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from core.models import Attachment
from core.platform import outbox

pytestmark = pytest.mark.browser

REQUEST_URL = re.compile(r"/requests/(\d+)(\?.*)?$")


def test_customer_asks_for_the_log_of_one_door_and_gets_the_files(
    sign_in: Any, pages: Any, world: Any, live_server: Any
) -> None:
    portal = live_server.portal
    door = portal.access_control(world.system).doors()[0]
    today = date.today()
    page = sign_in(world.member.email, who="customer")
    page.goto("/")
    page.get_by_role("link", name="Begäran om utdrag/logg").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Begäran om utdrag/logg")
    pages.check(page, "log extract form")

    page.locator("#f-system-id").select_option(label=world.system.name)
    page.get_by_label("Händelseloggen").check()
    page.get_by_label("En dörr").check()
    page.get_by_label(re.compile(r"^Dörr")).select_option(label=door.name)  # the chosen system's doors
    page.get_by_label(re.compile(r"^Från och med datum")).fill((today - timedelta(days=30)).isoformat())
    page.get_by_label(re.compile(r"^Till och med datum")).fill(today.isoformat())
    page.get_by_label(re.compile(r"^Filformat")).select_option(label="CSV och en Excel-fil (XLSX)")
    expect(page.get_by_label(re.compile(r"^Taggnummer"))).to_be_hidden()  # the other variants fold away
    pages.check(page, "log extract form filled in")

    page.get_by_role("button", name="Skicka ärendet").click()
    expect(page).to_have_url(REQUEST_URL)
    match = REQUEST_URL.search(page.url)
    assert match
    request_id = int(match.group(1))
    pages.check(page, "log extract filed")

    outbox.drain(portal)  # the live portal runs no worker: the test is the worker
    page.reload()
    expect(page.locator("dl.facts .status")).to_have_text("Slutfört")
    expect(page.get_by_text(re.compile(r"Utdraget är klart: [\d\s\u00a0]+ händelser"))).to_be_visible()
    pages.check(page, "log extract completed")
    with portal.database.reading() as session:
        made = {a.origin for a in session.exec(select(Attachment).where(Attachment.request_id == request_id))}
    assert made == {"extract-csv", "extract-xlsx"}


def test_a_wrong_date_range_is_shown_on_the_field(sign_in: Any, pages: Any, world: Any) -> None:
    page = sign_in(world.member.email, who="customer")
    page.goto("/requests/new/log_extract")
    page.locator("#f-system-id").select_option(label=world.system.name)
    page.get_by_label("Händelseloggen").check()
    page.get_by_label("Hela systemet").check()
    page.get_by_label(re.compile(r"^Från och med datum")).fill("2026-03-10")
    page.get_by_label(re.compile(r"^Till och med datum")).fill("2026-03-01")
    page.get_by_role("button", name="Skicka ärendet").click()
    expect(page.locator("#f-extract-date-from-error")).to_contain_text("Första dagen måste vara samma dag som")
    expect(page.get_by_label(re.compile(r"^Från och med datum"))).to_have_value("2026-03-10")  # nothing lost
    pages.check(page, "log extract date error")
