"""The English interface is English throughout: a request's title and its price lines' notes are shown in the
reader's language; a request stored before titles had two languages still reads as it was stored."""

from __future__ import annotations

import html
from typing import Any

from core.models import Request
from core.portal import Portal
from core.workflow import actions as workflow
from tests.billing_support import seed_prices
from tests.support import World


def english(web: Any) -> None:
    web.post("/language", {"language": "en", "next": "/"})


def test_a_title_is_stored_in_both_languages_and_shown_in_the_readers(portal: Portal, world: World, web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(location="Port 3"), None)
    assert filed.summary.startswith("Felanmälan: Port 3 – ") and filed.summary_en is not None
    assert filed.summary_en.startswith("Fault report: Port 3 – ")
    web.login(world.member.email)
    assert f"{filed.number}: Felanmälan: Port 3" in html.unescape(web.get(f"/requests/{filed.id}").text)
    english(web)
    page = html.unescape(web.get(f"/requests/{filed.id}").text)
    assert f"{filed.number}: Fault report: Port 3" in page and "Felanmälan: Port 3" not in page
    listing = html.unescape(web.get("/requests").text)
    assert "Fault report: Port 3" in listing and "Felanmälan: Port 3" not in listing

    with portal.database.writing() as s:  # as filed before there was an English title
        old = s.get(Request, filed.id)
        assert old is not None
        old.summary_en = None
    assert "Felanmälan: Port 3" in html.unescape(web.get(f"/requests/{filed.id}").text)


def test_a_tag_orders_price_line_names_the_tag_type_in_the_readers_language(
    portal: Portal, world: World, web: Any
) -> None:
    seed_prices(portal)
    order = {
        "system_id": str(world.system.id),
        "order": "tags",
        "order.tag_type": "desfire_ev3_fob",
        "order.quantity": "2",
        "order.delivery": "send",
        "order.delivery.recipient": "Brf Testet",
        "order.delivery.street": "Storgatan 1",
        "order.delivery.postcode": "12345",
        "order.delivery.city": "Testby",
    }
    web.login(world.member.email)
    swedish = html.unescape(web.post("/requests/new/order", order).text)
    assert "Tagg" in swedish and "(Mifare DESFire EV3 bricka)" in swedish
    english(web)
    page = html.unescape(web.post("/requests/new/order", order).text)
    assert "(Mifare DESFire EV3 fob)" in page and "bricka" not in page
