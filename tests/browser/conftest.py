"""Real-browser fixtures: a live portal served by uvicorn, Debian's chromium through Playwright, and axe-core.

One live server and one browser per test session (a browser pass is one database pass); every test opens
its own browser context(s), so cookies never leak between the user stories.

Every page a test looks at goes through ``Pages.check(page, step)``: a full-page screenshot into
``test-artifacts/screenshots/`` and an axe-core run (WCAG 2.1 A/AA + best practice) that fails the test on
any "serious" or "critical" violation. Minor and moderate findings are collected in
``test-artifacts/axe-findings.json`` for a human to read.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING_IMPACTS = {"serious", "critical"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason="Debian's chromium is not installed: apt-get install -y chromium")
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(skip)


# --- the live portal -------------------------------------------------------------------------------------


@dataclass
class LiveServer:
    base_url: str
    portal: Any
    world: Any

    def url(self, path: str) -> str:
        return self.base_url + path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(database_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    from core.platform.clock import SystemClock
    from core.platform.settings import Settings
    from core.portal import build_portal
    from core.web.app import create_app
    from tests.support import make_world

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("live") / "data",
        secret_key="test-secret-" + "x" * 40,
        base_url=base_url,
        embedded_worker=False,
        _env_file=None,
    )
    database = database_factory.new()
    portal = build_portal(settings, database=database, clock=SystemClock())
    world = make_world(portal)
    app = create_app(portal)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    # uvicorn (0.29+) only captures signals in the main thread, and the server runs in a daemon thread here;
    # older versions had an overridable hook, switched off in case one is installed.
    if hasattr(server, "install_signal_handlers"):
        server.install_signal_handlers = lambda: None
    thread = threading.Thread(target=server.run, name="live-portal", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the live portal did not start on {base_url}")
        time.sleep(0.02)
    try:
        yield LiveServer(base_url=base_url, portal=portal, world=world)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        database_factory.drop(database)


# --- the browser -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


# --- axe + screenshots -----------------------------------------------------------------------------------


@dataclass
class AxeFinding:
    step: str
    url: str
    rule: str
    impact: str
    help: str
    targets: list[str]


@dataclass
class Findings:
    """Every axe finding of the session (blocking or not), written out at the end for a human to read."""

    items: list[AxeFinding] = field(default_factory=list)

    def write(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        rows = [finding.__dict__ for finding in self.items]
        (ARTIFACTS / "axe-findings.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")


@pytest.fixture(scope="session")
def axe_findings() -> Iterator[Findings]:
    findings = Findings()
    yield findings
    findings.write()


NPM_AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core from the npm registry (``npm ci``, as .ci/run does), else the copy axe-playwright-python bundles."""
    if NPM_AXE.exists():
        return NPM_AXE.read_text()
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


# Playwright's ``evaluate`` still runs where the page's own scripts are disabled (``java_script_enabled=False``),
# but timers never fire there, and axe waits on setTimeout. Where no page script can run anyway, timers are
# replaced by microtasks so that axe checks the no-JavaScript page itself.
TIMER_SHIM = """() => {
  window.setTimeout = (callback, _ms, ...args) => {
    Promise.resolve().then(() => { if (typeof callback === "function") callback(...args); });
    return 0;
  };
  window.clearTimeout = () => {};
}"""
SCRIPTLESS_CONTEXTS: set[int] = set()


def _run_axe(page: Any, script: str) -> list[dict[str, Any]]:
    """Inject the bundled axe.min.js and run it on the whole document; returns the violations."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        if id(page.context) in SCRIPTLESS_CONTEXTS:
            page.evaluate(TIMER_SHIM)
        page.evaluate(script)
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    results = page.evaluate("options => window.axe.run(document, options)", options)
    return list(results["violations"])


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            summary = " ".join(line.strip() for line in (node.get("failureSummary") or "").splitlines()[1:])
            lines.append(f"    at {target}: {summary}")
    return "\n".join(lines)


# Layout faults axe does not look for: the page scrolls sideways, or a table sticks out of its column.
LAYOUT_CHECK = """() => {
  const faults = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) faults.push(`page is ${root.scrollWidth - root.clientWidth}px too wide`);
  for (const table of document.querySelectorAll("table")) {
    const parent = getComputedStyle(table.parentElement);
    const room = table.parentElement.clientWidth - parseFloat(parent.paddingLeft) - parseFloat(parent.paddingRight);
    const width = table.getBoundingClientRect().width;
    if (width > room + 1) faults.push(`a table is ${Math.round(width - room)}px wider than its column`);
  }
  return faults.join("; ");
}"""


class Pages:
    """Checks a page the test looks at: screenshot first (so a failure can be seen), then axe."""

    def __init__(self, test_name: str, script: str, findings: Findings, *, narrow_too: bool = False) -> None:
        self.prefix = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")
        self.script = script
        self.findings = findings
        self.narrow_too = narrow_too
        self.count = 0
        for stale in SCREENSHOTS.glob(f"{self.prefix}-[0-9][0-9]-*.png"):  # an earlier run's steps of this test
            stale.unlink()

    def screenshot(self, page: Any, step: str) -> Path:
        self.count += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def _fits(self, page: Any, step: str) -> None:
        overflow = page.evaluate(LAYOUT_CHECK)
        if overflow:
            raise AssertionError(f"{page.url} ({step}) does not fit the window: {overflow}")

    def check(self, page: Any, step: str, *, record: bool = True) -> None:
        """Screenshot ``page`` and run axe on it (no-JavaScript pages too: see ``TIMER_SHIM``)."""
        self.screenshot(page, step)
        assert_no_csp_violations(f"on {page.url} ({step})")
        self._fits(page, step)
        if self.narrow_too:  # a story that runs once: the same page in a phone's window, then back
            wide = page.viewport_size
            page.set_viewport_size(VIEWPORTS[NARROW])
            try:
                self.screenshot(page, f"{step} at {NARROW}px")
                self._fits(page, f"{step} at {NARROW}px")
            finally:
                page.set_viewport_size(wide)
        violations = _run_axe(page, self.script)
        for violation in violations if record else []:
            self.findings.items.append(
                AxeFinding(
                    step=f"{self.prefix}: {step}",
                    url=page.url,
                    rule=violation["id"],
                    impact=str(violation["impact"]),
                    help=violation["help"],
                    targets=[" ".join(map(str, n["target"])) for n in violation["nodes"]],
                )
            )
        blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        if blocking:  # raised, not asserted: the message alone, without pytest's repr of the whole result
            raise AssertionError(
                f"axe found serious/critical accessibility violations on {page.url} ({step}):\n"
                + format_violations(blocking)
            )


@pytest.fixture
def pages(request: pytest.FixtureRequest, axe_script: str, axe_findings: Findings) -> Pages:
    once = request.node.get_closest_marker("once") is not None
    return Pages(request.node.name, axe_script, axe_findings, narrow_too=once)


CSP_VIOLATIONS: list[str] = []
"""What the browser refused under the portal's Content-Security-Policy during the current test."""
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (event) => {
  const blocked = event.blockedURI || "inline";
  console.error(`CSP violation: ${event.violatedDirective} blocked ${blocked} on ${location.pathname}`);
});"""


def _watch_csp(context: Any) -> None:
    """Every page of the context reports what the policy blocked (an inline script, a style="…", a frame)."""
    context.add_init_script(CSP_LISTENER)

    def on_console(message: Any) -> None:
        text = message.text
        if "CSP violation" not in text and "Content Security Policy" not in text:
            return
        # A file opened in the browser's own image or text viewer runs under the download's sandboxing policy
        # (default-src 'none'), which refuses the viewer's own inline styles: those are the browser's, not ours.
        if "/attachments/" in (message.location or {}).get("url", "") or "/attachments/" in text:
            return
        CSP_VIOLATIONS.append(f"{text} ({(message.location or {}).get('url', '')})")

    context.on("console", on_console)


def assert_no_csp_violations(where: str) -> None:
    found, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    if found:
        raise AssertionError(f"the Content-Security-Policy blocked something {where}:\n" + "\n".join(found))


VIEWPORTS = {"1280": {"width": 1280, "height": 800}, "390": {"width": 390, "height": 844}}
"""Every story runs twice: on a desktop window and on a phone's (an iPhone 12-15 is 390 CSS pixels wide)."""


NARROW = "390"


@pytest.fixture(params=list(VIEWPORTS), ids=lambda width: f"{width}px")
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    """The window every context of the story opens with; ``Pages.check`` fails a page that does not fit it.

    A story marked ``once`` changes what a second run would find (a price list from today cannot be made twice
    on one database): it runs at 1280 px, and ``Pages.check`` looks at each of its pages at 390 px as well.
    """
    if request.param == NARROW and request.node.get_closest_marker("once"):
        pytest.skip("a story marked 'once' runs at 1280 px and checks every page at 390 px as it goes")
    return VIEWPORTS[request.param]


@pytest.fixture
def new_context(browser: Any, live_server: LiveServer, viewport: dict[str, int]) -> Iterator[Any]:
    """Opens fresh browser contexts (separate cookie jars) on the live portal; closes them afterwards.

    Every context has the story's window size (``viewport``: each story runs at 1280 and at 390 px) and
    reports what the portal's Content-Security-Policy blocked: any such report fails the test.
    """
    contexts: list[Any] = []
    CSP_VIOLATIONS.clear()

    def factory(**options: Any) -> Any:
        options.setdefault("base_url", live_server.base_url)
        options.setdefault("viewport", viewport)
        options.setdefault("locale", "sv-SE")
        context = browser.new_context(**options)
        context.set_default_timeout(5_000)
        _watch_csp(context)
        if options.get("java_script_enabled") is False:
            SCRIPTLESS_CONTEXTS.add(id(context))
        contexts.append(context)
        return context

    yield factory
    for context in contexts:
        SCRIPTLESS_CONTEXTS.discard(id(context))
        context.close()
    assert_no_csp_violations("during the test")


@pytest.fixture(scope="session")
def _storage_states(live_server: LiveServer) -> dict[str, Any]:
    """Cookies of each user's first log-in, so that stories about something else need not log in again."""
    return {}


@pytest.fixture
def sign_in(new_context: Any, pages: Pages, _storage_states: dict[str, Any]) -> Any:
    """``sign_in(email, who=...)``: a page in a new context, logged in as that user.

    The first time (or with ``fresh=True``) the user logs in through the login page like a person (screenshot
    and axe on the way); later contexts of the same user start from that log-in's cookies.
    """
    from playwright.sync_api import expect

    from tests.support import PASSWORD

    def factory(email: str, *, who: str, fresh: bool = False, **context_options: Any) -> Any:
        state = _storage_states.get(email)
        if state is not None and not fresh:
            return new_context(storage_state=state, **context_options).new_page()
        page = new_context(**context_options).new_page()
        page.goto("/login")
        pages.check(page, f"{who} login page")
        page.get_by_label("E-postadress").fill(email)
        page.get_by_label("Lösenord").fill(PASSWORD)
        page.get_by_role("button", name="Logga in").click()
        expect(page).not_to_have_url(re.compile(r"/login"))
        pages.check(page, f"{who} logged in")
        _storage_states[email] = page.context.storage_state()
        return page

    return factory


@pytest.fixture
def world(live_server: LiveServer) -> Any:
    """The live portal's world (overrides the per-test ``world`` of tests/conftest.py)."""
    return live_server.world
