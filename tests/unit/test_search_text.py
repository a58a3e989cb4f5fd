"""The text side of search: folding as people type, the words of a query, the snippet, what of a form is indexed."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from core.requests.search_text import coded_fields, fold, number_of, request_text, searchable, snippet, terms_of


def test_folding_keeps_every_position() -> None:
    for text in ("Dörrarna Å ä Ö", "İstanbul ß", "Taggspärr", "Ærø"):
        assert len(fold(text)) == len(text)
    assert fold("Dörrarna ÅÄÖ éü") == "dorrarna aao eu"


def test_phone_numbers_are_indexed_as_digits_too() -> None:
    indexed = searchable("Ring +46701234567 eller 08-123 456 78")
    assert "0701234567" in indexed and "46701234567" in indexed and "0812345678" in indexed


def test_the_words_of_a_query() -> None:
    assert terms_of("Dörr  TAGG dörr") == ["dorr", "tagg"]
    assert terms_of("070-123 45 67") == ["0701234567"]
    assert terms_of("ab c") == []  # too short for trigrams
    assert number_of("BB-12") == number_of("bb12") == number_of(" 12 ") == 12
    assert number_of("BB-12 dörr") is None and number_of("tagg") is None


def test_the_snippet_escapes_and_marks_the_original_words() -> None:
    shown = snippet("<b>Dörrarna</b> & " + "x " * 200 + "slut", ["dorr"])
    assert shown is not None and shown.startswith("&lt;b&gt;<mark>Dörr</mark>arna&lt;/b&gt; &amp;")
    assert shown.endswith("…")
    assert snippet("inget här", ["dorr"]) is None
    later = snippet("a " * 200 + "taggen", ["tagg"])
    assert later is not None and later.startswith("…") and "<mark>tagg</mark>en" in later


def test_digits_are_marked_in_a_phone_number_as_it_is_written() -> None:
    shown = snippet("Ring 073-555 12 34 eller (08) 123 45", ["5551234"])
    assert shown == "Ring 073-<mark>555 12 34</mark> eller (08) 123 45"
    assert snippet("Ring (08) 123 45", ["0812345"]) == "Ring (<mark>08) 123 45</mark>"
    assert snippet("Ring 073-555 12 34", ["5559"]) is None  # digits that are not there are not marked


class Topic(StrEnum):
    PORTAL = "portal"


class Form(BaseModel):
    topic: Literal["other", "portal"]
    kind: Topic
    system_id: int | None = None
    text: str


def test_codes_are_not_indexed_and_the_title_is_not_repeated() -> None:
    assert coded_fields(Form) == {"topic", "kind", "system_id"}
    data = {"topic": "other", "kind": "portal", "system_id": 7, "text": "Porten knarrar"}
    indexed = request_text("Porten knarrar", data, "Brf Testet", "Maja", skipped=coded_fields(Form))
    assert indexed.split("\n") == ["Porten knarrar", "Brf Testet", "Maja"]
