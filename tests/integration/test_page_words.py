"""No English on a Swedish page and no Swedish on an English one: every page of the app, in both languages.

The walk is the security-header walk's (every GET route of ``app.routes`` with real ids, as its role), so a page
added later is read too. Each page's visible text (and the words of ``aria-label``, ``title``, ``placeholder``
and ``alt``) is compared with the catalogs, the core's and every plugin's: on a Swedish page no text may be an
English message id whose Swedish differs (a string that escaped translation); on an English page no text may
be a Swedish translation. A text node is matched whole; a long message also inside a longer text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from litestar import Litestar

from core.platform import outbox
from core.portal import Portal
from core.workflow import actions as workflow
from tests.integration.test_security_headers import PARAMETER, role, routes, values
from tests.plugins.sample_types import AutomaticSample, BillingSamplePlugin, SamplePlugin
from tests.support import World

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = [ROOT / "core/locale/sv/LC_MESSAGES/bbportal.po", *sorted(ROOT.glob("plugins/*/locale/sv/LC_MESSAGES/*.po"))]
LONG = 25
"""A message of at least this many characters is also looked for inside longer texts."""
NOT_PAGES = re.compile(r"^/(api/|static/|schema|healthz|readyz)|/attachments/|/csv$|/raw$|\.eml$")
VISIBLE_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")
BOTH_LANGUAGES = re.compile(r"^/admin/price-lists/\{list_id(:int)?\}$|^/dev/mail")
"""Pages that show data in both languages on purpose: a price list's items with their Swedish and English names,
and the development mail pages, which show each mail as it was sent (in its recipient's language, with the
mail's own header names)."""


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [BillingSamplePlugin(), SamplePlugin()]


def catalog_pairs() -> list[tuple[str, str]]:
    """(English id, Swedish text) of every message that reads differently in the two languages."""
    pairs = []
    for path in CATALOGS:
        with path.open("rb") as handle:
            catalog = read_po(handle)
        for message in catalog:
            ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
            texts = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
            for english, swedish in zip(ids, texts, strict=False):
                if english and swedish and english.strip() != swedish.strip() and "%(" not in english:
                    pairs.append((english.strip(), swedish.strip()))
    return pairs


class Texts(HTMLParser):
    """The texts a person reads or hears on a page: text nodes outside scripts and styles, and labels."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "pre", "code"):  # code and technical detail are not interface words
            self._hidden += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.found.append(" ".join(value.split()))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "pre", "code"):
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._hidden:
            self.found.append(text)


def texts_of(page: str) -> list[str]:
    parser = Texts()
    parser.feed(page)
    return parser.found


def strangers(texts: list[str], foreign: set[str]) -> list[str]:
    """The texts that are, or hold, a message of the other language."""
    long = [message for message in foreign if len(message) >= LONG]
    found = []
    for text in texts:
        if text in foreign:
            found.append(text)
        else:
            found.extend(message for message in long if message in text)
    return found


def walk(app: Litestar, filled: dict[str, str], clients: dict[str, Any]) -> dict[str, str]:
    """Path → HTML of every page the walk reaches with a 200 (or an error page with its own text)."""
    pages = {}
    for method, template in routes(app):
        if method != "GET" or NOT_PAGES.search(template) or BOTH_LANGUAGES.search(template):
            continue
        path = PARAMETER.sub(lambda m: filled[m.group(1)], template)
        response = clients[role(template)].client.get(path, follow_redirects=False)
        if "text/html" in response.headers.get("content-type", ""):
            pages[path] = response.text
    return pages


def test_every_page_speaks_one_language(portal: Portal, world: World, app: Litestar, make_web: Any) -> None:
    filled = values(portal, world)
    AutomaticSample.fail_next[:] = ["The door controller did not answer."]  # the queue shows what needs attention
    workflow.file(portal, world.member, "sample_automatic", {"note": "x"}, None)
    outbox.drain(portal)
    clients = {"anonymous": make_web(), "customer": make_web(), "staff": make_web(), "staff_admin": make_web()}
    clients["customer"].login(world.admin.email)
    clients["staff"].login(world.staff.email)
    clients["staff_admin"].login(world.staff_admin.email)
    pairs = catalog_pairs()
    english, swedish = {e for e, _ in pairs}, {s for _, s in pairs}
    swedish_only, english_only = english - swedish, swedish - english  # a word both languages share is no sign

    in_swedish = walk(app, filled, clients)
    for client in clients.values():
        client.post("/language", {"language": "en", "next": "/"})
    in_english = walk(app, filled, clients)

    assert len(in_swedish) > 30 and len(in_english) == len(in_swedish), sorted(in_swedish)
    assert "Vad behöver ni hjälp med?" in in_swedish["/"] and "What do you need help with?" in in_english["/"]
    assert "Ett automatiskt steg misslyckades" in in_swedish["/staff/queue"]
    failures = [
        f"sv {path}: English {found!r}"
        for path, page in in_swedish.items()
        for found in strangers(texts_of(page), swedish_only)
    ] + [
        f"en {path}: Swedish {found!r}"
        for path, page in in_english.items()
        for found in strangers(texts_of(page), english_only)
    ]
    assert not failures, "\n".join(sorted(set(failures)))


def test_the_check_finds_a_stranger() -> None:
    """The comparison itself: an untranslated message is found whole and inside a longer text."""
    foreign = {"Send request", "The request is charged under your agreement and the price list in force today."}
    page = (
        "<p>Send request</p><p>Note: The request is charged under your agreement and the price list in force today.</p>"
    )
    assert strangers(texts_of(page), foreign) == [
        "Send request",
        "The request is charged under your agreement and the price list in force today.",
    ]
    assert strangers(texts_of("<script>Send request</script><p>Skicka ärendet</p>"), foreign) == []
