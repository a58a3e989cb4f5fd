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
        if here in Path(str(item.fspath)).parents:
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

    from core.clock import SystemClock
    from core.portal import build_portal
    from core.settings import Settings
    from core.web.app import create_app
    from tests.support import make_world

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("live") / "data", secret_key="test-secret-" + "x" * 40,
        base_url=base_url, embedded_worker=False, _env_file=None,
    )
    database = database_factory.new()
    portal = build_portal(settings, database=database, clock=SystemClock())
    world = make_world(portal)
    app = create_app(portal)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    # uvicorn only installs signal handlers from the main thread; the server runs in a daemon thread.
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


@pytest.fixture(scope="session")
def axe_script() -> str:
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


def _run_axe(page: Any, script: str) -> list[dict[str, Any]]:
    """Inject the bundled axe.min.js and run it on the whole document; returns the violations."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
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
            lines.append(f"    at {target}: {node.get('failureSummary', '').splitlines()[-1].strip()}")
    return "\n".join(lines)


class Pages:
    """Checks a page the test looks at: screenshot first (so a failure can be seen), then axe."""

    def __init__(self, test_name: str, script: str, findings: Findings) -> None:
        self.prefix = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")
        self.script = script
        self.findings = findings
        self.count = 0

    def screenshot(self, page: Any, step: str) -> Path:
        self.count += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def check(self, page: Any, step: str) -> None:
        """Screenshot ``page`` and run axe on it.

        Playwright's ``evaluate`` still runs in a context with ``java_script_enabled=False`` (the page's own
        scripts do not), so the no-JavaScript pages are checked the same way.
        """
        self.screenshot(page, step)
        violations = _run_axe(page, self.script)
        for violation in violations:
            self.findings.items.append(AxeFinding(
                step=f"{self.prefix}: {step}", url=page.url, rule=violation["id"], impact=str(violation["impact"]),
                help=violation["help"], targets=[" ".join(map(str, n["target"])) for n in violation["nodes"]],
            ))
        blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, (
            f"axe found serious/critical accessibility violations on {page.url} ({step}):\n"
            + format_violations(blocking)
        )


@pytest.fixture
def pages(request: pytest.FixtureRequest, axe_script: str, axe_findings: Findings) -> Pages:
    return Pages(request.node.name, axe_script, axe_findings)


@pytest.fixture
def new_context(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """Opens fresh browser contexts (separate cookie jars) on the live portal; closes them afterwards."""
    contexts: list[Any] = []

    def factory(**options: Any) -> Any:
        options.setdefault("base_url", live_server.base_url)
        options.setdefault("viewport", {"width": 1280, "height": 800})
        options.setdefault("locale", "sv-SE")
        context = browser.new_context(**options)
        context.set_default_timeout(5_000)
        contexts.append(context)
        return context

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def world(live_server: LiveServer) -> Any:
    """The live portal's world (overrides the per-test ``world`` of tests/conftest.py)."""
    return live_server.world
