"""A fault report says, before it is sent, what a visit costs if the fault turns out to be the customer's."""

from __future__ import annotations

import html
from typing import Any

from core.portal import Portal
from tests.billing_support import seed_agreement, seed_prices
from tests.support import World

FORM = "/requests/new/fault_report"


def test_the_fault_report_names_the_visits_price_before_sending(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    assert "debiteras teknikerns besök" not in web.get(FORM).text  # no price list: nothing to say
    seed_prices(portal)
    page = html.unescape(web.get(FORM).text)
    assert "debiteras teknikerns besök: Felanmälan orsakad av kund, 950,00\xa0kr exkl. moms." in page
    web.post("/language", {"language": "en", "next": "/"})
    page = html.unescape(web.get(FORM).text)
    assert "the technician's visit is charged: Fault caused by the customer, " in page and "excl. VAT" in page


def test_the_price_follows_the_organisations_agreement(portal: Portal, world: World, web: Any) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, discount="10")
    web.login(world.member.email)
    page = html.unescape(web.get(FORM).text)
    assert "Felanmälan orsakad av kund, 855,00\xa0kr exkl. moms." in page  # 950 kr less the 10 % discount
