"""In a real browser: a customer blocks a lost tag by its number and sees it done; a customer suggests a change."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from core.access_control import TagState
from core.platform import outbox
from core.platform.clock import LOCAL_ZONE, as_utc
from tests.browser.test_flows import REQUEST_URL, send, status_of

pytestmark = pytest.mark.browser


def test_customer_blocks_a_lost_tag_by_its_number(sign_in: Any, pages: Any, world: Any, live_server: Any) -> None:
    adapter = live_server.portal.access_control(world.system)
    tag = next(t for t in adapter.tags() if t.state == TagState.ACTIVE and t.holder_id)
    page = sign_in(world.member.email, who="customer")
    page.goto("/")
    page.get_by_role("link", name=re.compile(r"^Spärra")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Spärra / Återaktivera förlorad tagg")
    expect(page.get_by_label(re.compile(r"^Utförs den"))).to_have_count(0)  # no date: a block cannot wait
    page.get_by_label(re.compile(r"^System")).select_option(label="Passersystem A")
    expect(page.get_by_label(re.compile(r"^Vad ska göras"))).to_have_value("block")
    page.get_by_label("Med taggens nummer", exact=True).check()
    expect(page.get_by_label("Vilken av innehavarens taggar")).to_be_hidden()  # the other variant is folded away
    page.get_by_label(re.compile(r"^Taggnummer")).fill(tag.number)
    page.get_by_label(re.compile(r"^Anledning")).fill("Borttappad på gården")
    pages.check(page, "tag block form filled in")
    send(page)

    expect(page).to_have_url(REQUEST_URL)
    match = REQUEST_URL.search(page.url)
    assert match
    request_id = int(match.group(1))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Spärr av tagg {tag.number}")
    outbox.drain(live_server.portal)  # the worker's turn (the live portal runs without one)

    page.reload()
    blocked = adapter.tag(tag.number)
    assert blocked is not None and blocked.state == TagState.BLOCKED
    since = as_utc(blocked.changed_at).astimezone(LOCAL_ZONE).strftime("%H:%M")
    assert status_of(page) == "Slutfört"
    messages = page.locator("ol.messages")
    expect(messages).to_contain_text(f"Taggen {tag.number} är spärrad sedan {since}.")
    expect(messages).not_to_contain_text("Intern anteckning")
    expect(messages.locator("li")).to_have_count(1)
    pages.check(page, "tag block completed with the chat line")
    assert page.url.endswith(f"/requests/{request_id}") or f"/requests/{request_id}?" in page.url


def test_customer_suggests_a_change(sign_in: Any, pages: Any, world: Any) -> None:
    page = sign_in(world.member.email, who="customer")
    page.goto("/")
    page.get_by_role("link", name=re.compile(r"^Föreslå en förändring")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Föreslå en förändring")
    page.get_by_label(re.compile(r"^Vad gäller det")).select_option(label="Portalen")
    page.get_by_label(re.compile(r"^Ert förslag")).fill(
        "Visa i listan vem som spärrade en tagg.\nDå slipper styrelsen fråga runt."
    )
    pages.check(page, "suggestion form filled in")
    send(page)

    expect(page).to_have_url(REQUEST_URL)
    assert status_of(page) == "Väntar på hantering"
    expect(page.locator("main")).to_contain_text("Portalen")
    expect(page.locator("main")).to_contain_text("Då slipper styrelsen fråga runt.")
    pages.check(page, "suggestion filed")


def test_without_javascript_the_holders_tags_are_listed_to_choose_from(
    sign_in: Any, pages: Any, world: Any, live_server: Any
) -> None:
    """The honest no-JS flow: pick the holder, send, read the holder's tags in the error, give the last digits."""
    adapter = live_server.portal.access_control(world.system)
    held: dict[str, list[Any]] = {}
    for tag in adapter.tags():
        if tag.holder_id:
            held.setdefault(tag.holder_id, []).append(tag)
    holder_id, (first, second) = next(
        (h, sorted(tags, key=lambda t: t.number))
        for h, tags in sorted(held.items())
        if len(tags) == 2 and all(t.state == TagState.ACTIVE for t in tags) and endings_differ(tags)
    )
    page = sign_in(world.admin.email, who="customer without javascript", java_script_enabled=False)
    page.goto("/requests/new/tag_block")
    page.get_by_label(re.compile(r"^System")).select_option(label="Passersystem A")
    page.get_by_label("Via innehavaren", exact=True).check()
    page.get_by_label(re.compile(r"^Innehavare")).select_option(value=f"{world.system.id}:{holder_id}")
    page.get_by_label(re.compile(r"^Anledning")).fill("Stulen ur bilen")
    pages.check(page, "holder chosen without javascript")
    send(page)

    error = page.locator("#f-tag-holder-tag-error")
    expect(error).to_contain_text("har flera taggar")
    expect(error).to_contain_text(first.number)
    expect(error).to_contain_text(second.number)
    expect(page.get_by_label(re.compile(r"^Anledning"))).to_have_value("Stulen ur bilen")
    pages.check(page, "the holder's tags listed in the error")
    ending = second.number.replace(" ", "")[-3:]
    page.get_by_label(re.compile(r"^Vilken av innehavarens taggar")).fill(ending)
    send(page)

    expect(page).to_have_url(REQUEST_URL)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Spärr av tagg {second.number}")
    outbox.drain(live_server.portal)
    page.reload()
    expect(page.locator("ol.messages")).to_contain_text(f"Taggen {second.number} är spärrad sedan")
    assert status_of(page) == "Slutfört"
    pages.check(page, "the holder's tag blocked")
    still = adapter.tag(first.number)
    assert still is not None and still.state == TagState.ACTIVE  # only the tag that was meant


def endings_differ(tags: list[Any]) -> bool:
    """The last three digits tell the two tags apart (what the customer types in this story)."""
    endings = {tag.number.replace(" ", "")[-3:] for tag in tags}
    return len(endings) == len(tags)
