"""Customers are addressed with "ni" in every Swedish catalog (core and plugins), and a request is an "ärende"."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = [ROOT / "core/locale/sv/LC_MESSAGES/bbportal.po", *sorted(ROOT.glob("plugins/*/locale/sv/LC_MESSAGES/*.po"))]
DU = re.compile(r"\b(du|dig|din|dina|ditt|dej)\b", re.IGNORECASE)


def swedish(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    found = {}
    for message in catalog:
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        texts = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        found.update({english: text for english, text in zip(ids, texts, strict=False) if english and text})
    return found


def test_no_swedish_text_says_du() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {text}" for path in CATALOGS for text in swedish(path).values() if DU.search(text)
    ]
    assert not found, "write ni / er / ert / era:\n" + "\n".join(found)


def test_the_customer_files_an_arende() -> None:
    core = swedish(CATALOGS[0])
    assert core["New request"] == "Nytt ärende"
    assert core["Send request"] == "Skicka ärendet"
    assert core["Withdraw request"].endswith("ärendet")
    assert core["Ask the customer"] == "Fråga kunden"  # a button names what it does, not the status it leads to


def test_the_pattern_finds_du() -> None:
    assert DU.search("Behöver du mer hjälp?") and DU.search("Ditt lösenord") and not DU.search("Ni dunkar på dörren")
