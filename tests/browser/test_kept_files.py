"""A photo chosen on the fault report survives a validation error, in a real browser at 1280 and 390 px, in
Swedish and English: the form names it as kept, and sending the corrected form files it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests import files
from tests.browser.test_flows import REQUEST_URL

pytestmark = pytest.mark.browser

WORDS = {
    "sv": {"kept": "Behållen: trasigt-las.png", "send": "Skicka ärendet"},
    "en": {"kept": "Kept: trasigt-las.png", "send": "Send request"},
}


@pytest.mark.parametrize(("width", "language"), [(1280, "sv"), (390, "sv"), (1280, "en"), (390, "en")])
def test_a_photo_is_kept_across_an_error_and_filed(
    sign_in: Any, pages: Any, world: Any, width: int, language: str, tmp_path: Any
) -> None:
    photo = tmp_path / "trasigt-las.png"
    photo.write_bytes(files.png())
    words = WORDS[language]
    page = sign_in(world.member.email, who="customer", viewport={"width": width, "height": 800})
    if language == "en":
        page.goto("/")
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()
    try:
        page.goto("/requests/new/fault_report")
        page.locator("#f-system-id").select_option(str(world.system.id))
        page.locator("#f-location").fill("Huvudentrén, Storgatan 1")
        page.locator("#f-description").fill("Låset i entrén öppnar inte alltid.")
        page.locator("#f-contact-name").fill("Anna Kund")
        page.locator("#f-contact-phone").fill("12")  # not a phone number: the form comes back
        page.locator("#f-photos").set_input_files(str(photo))
        page.get_by_role("button", name=words["send"]).click()
        page.wait_for_load_state()
        expect(page.locator(".kept-files")).to_contain_text(words["kept"])
        pages.check(page, f"photo kept after an error at {width} in {language}")
        page.locator("#f-contact-phone").fill("070-123 45 67")
        page.get_by_role("button", name=words["send"]).click()
        expect(page).to_have_url(REQUEST_URL)
        expect(page.locator("main")).to_contain_text("trasigt-las.png")
        pages.check(page, f"filed with the kept photo at {width} in {language}")
    finally:
        if language == "en":
            page.goto("/")
            page.get_by_role("button", name="Svenska").click()
            page.wait_for_load_state()
