"""The Content-Security-Policy in a real browser: the portal's pages run under it, and it does block."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CSP_VIOLATIONS, assert_no_csp_violations

pytestmark = pytest.mark.browser


def test_an_inline_script_is_blocked_and_reported(new_context: Any) -> None:
    """The check the other browser tests rely on: an inline script on a portal page is refused and reported."""
    page = new_context().new_page()
    page.goto("/login")
    page.evaluate(
        """() => { const s = document.createElement("script"); s.textContent = "window.ran = true";
        document.body.appendChild(s); }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.ran === undefined")
    assert any("script-src" in v for v in CSP_VIOLATIONS), CSP_VIOLATIONS
    with pytest.raises(AssertionError, match="Content-Security-Policy blocked"):
        assert_no_csp_violations("in this test")


def test_the_scripts_of_the_pages_still_run(sign_in: Any, world: Any) -> None:
    """app.js (a static file) runs: the `js` class it sets on the page is there."""
    page = sign_in(world.member.email, who="customer")
    page.goto("/requests/new/fault_report")
    assert page.evaluate("() => document.documentElement.classList.contains('js')")


def test_the_development_mail_page_shows_a_mail_s_own_styles(sign_in: Any, world: Any, live_server: Any) -> None:
    """The one page that allows inline styles: a mail's HTML, in a sandboxed frame that inherits the policy."""
    from core.platform import outbox
    from core.workflow import actions as workflow
    from tests.support import VALID_FAULT

    workflow.file(live_server.portal, world.member, "fault_report", {**VALID_FAULT, "system_id": world.system.id}, None)
    outbox.drain(live_server.portal)
    page = sign_in(world.staff_admin.email, who="admin")
    page.goto("/dev/mail")
    page.locator("main a[href^='/dev/mail/']").first.click()
    frame = page.frame_locator("iframe.mail-preview")
    assert frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(245, 247, 250)"
    page.wait_for_timeout(200)
    assert_no_csp_violations("on the development mail page")
