"""Forms whose lists follow another choice, in a real browser at 1280 and 390 px, in Swedish and English, with
and without JavaScript: an order's holders and groups follow the chosen system, a change of access starts from
the holder's current groups, and removing one is confirmed before anything is filed."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_request_types_order import FORM, choose_kind, settled

pytestmark = pytest.mark.browser

TEXTS = {
    "sv": {"access": "Ändring av behörighet", "send": "Skicka ärendet", "first": "Välj först: System."},
    "en": {"access": "Change of access permissions", "send": "Send request", "first": "First choose: System."},
}


def switch_language(page: Page, language: str) -> None:
    """The header's language switch (it stores the user's choice: the test switches back afterwards)."""
    page.goto("/")
    page.get_by_role("button", name="English" if language == "en" else "Svenska").click()
    page.wait_for_load_state()


def a_holder_with_groups(live_server: Any, world: Any) -> Any:
    adapter = live_server.portal.access_control(world.system)
    holder = next(h for h in adapter.holders() if len(h.access_group_ids) >= 2)
    return holder, {g.id: g.name for g in adapter.access_groups()}


@pytest.mark.parametrize(("width", "language"), [(1280, "sv"), (390, "sv"), (1280, "en"), (390, "en")])
def test_with_javascript_the_lists_follow_the_system_and_removals_are_confirmed(
    sign_in: Any, pages: Any, world: Any, live_server: Any, width: int, language: str
) -> None:
    holder, names = a_holder_with_groups(live_server, world)
    words = TEXTS[language]
    page = sign_in(world.member.email, who="customer", viewport={"width": width, "height": 800})
    if language == "en":
        switch_language(page, "en")
    try:
        page.goto(FORM)
        choose_kind(page, words["access"])
        holders = page.locator("#f-order-holder")
        expect(holders.locator("option")).to_have_count(1)  # only "Choose…" until a system is chosen
        expect(page.locator("#f-order-holder-part")).to_contain_text(words["first"])
        expect(page.get_by_role("button", name="Välj system" if language == "sv" else "Choose system")).to_be_hidden()
        pages.check(page, f"order before a system is chosen, {width} {language}")

        page.locator("#f-system-id").select_option(str(world.system.id))
        settled(page)
        expect(holders.locator(f'option[value="{world.system.id}:{holder.id}"]')).to_have_count(1)
        expect(page.locator(f'#f-order-holder option[value^="{world.door_phone.id}:"]')).to_have_count(0)
        expect(page.locator(f'input[name="order.access_groups"][value^="{world.door_phone.id}:"]')).to_have_count(0)

        holders.select_option(f"{world.system.id}:{holder.id}")
        settled(page)
        for group_id in holder.access_group_ids:
            box = page.locator(f'input[name="order.access_groups"][value="{world.system.id}:{group_id}"]')
            expect(box).to_be_checked()  # their groups now, the start of the change
        pages.check(page, f"access change starts from the current groups, {width} {language}")

        removed = holder.access_group_ids[0]
        page.locator(f'input[name="order.access_groups"][value="{world.system.id}:{removed}"]').uncheck()
        page.get_by_role("button", name=words["send"]).click()
        page.wait_for_load_state()
        expect(page.locator(".confirm-lines")).to_contain_text(names[removed])
        pages.check(page, f"removal to be confirmed, {width} {language}")  # not sent: the holder stays as is
    finally:
        if language == "en":
            switch_language(page, "sv")


@pytest.mark.parametrize("width", [1280, 390])
def test_without_javascript_the_buttons_narrow_and_prefill(
    sign_in: Any, pages: Any, world: Any, live_server: Any, width: int
) -> None:
    holder, _names = a_holder_with_groups(live_server, world)
    page = sign_in(
        world.member.email, who="no-js customer", java_script_enabled=False, viewport={"width": width, "height": 800}
    )
    page.goto(FORM)
    choose_kind(page, "Ändring av behörighet")
    page.locator("#f-system-id").select_option(str(world.system.id))
    page.get_by_role("button", name="Välj system").click()
    page.wait_for_load_state()
    choose_kind(page, "Ändring av behörighet")
    expect(page.locator(f'#f-order-holder option[value="{world.system.id}:{holder.id}"]')).to_have_count(1)
    expect(page.locator(f'#f-order-holder option[value^="{world.door_phone.id}:"]')).to_have_count(0)
    page.locator("#f-order-holder").select_option(f"{world.system.id}:{holder.id}")
    pages.check(page, f"system chosen without javascript, {width}")
    page.get_by_role("button", name="Visa deras nuvarande behörighetsgrupper").click()
    page.wait_for_load_state()
    for group_id in holder.access_group_ids:
        expect(page.locator(f'input[name="order.access_groups"][value="{world.system.id}:{group_id}"]')).to_be_checked()
    pages.check(page, f"current groups shown without javascript, {width}")
