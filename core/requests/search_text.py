"""The text side of search: what of a request is indexed, folded the way people type, and the snippet shown.

Swedish as people type it: "å", "ä" and "ö" typed as "a" and "o", any case. Both the indexed text and the
query are folded the same way (lower case, diacritics dropped), one character for one character, so that a
position found in the folded text is the same position in the original: the snippet highlights the original
words. Phone numbers are indexed as written and as digits only (with ``+46`` also as a leading ``0``), so
"070-123 45 67", "0701234567" and "1234567" all find "+46701234567".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from enum import Enum
from functools import lru_cache
from typing import Any, Literal, get_args, get_origin

from markupsafe import Markup, escape
from pydantic import BaseModel

MIN_TERM = 3
"""Trigram matching (FTS5's trigram tokenizer, pg_trgm) needs at least three characters of a word."""
MAX_TERMS = 8
"""More words than this in one search add nothing but cost (every word is one more index condition)."""

_NUMBER = re.compile(r"^\s*(?:bb\s*-?\s*)?(\d{1,10})\s*$", re.IGNORECASE)
_PHONE = re.compile(r"\+?\d[\d \-()]{4,}\d")
_PHONE_QUERY = re.compile(r"^\+?[\d \-()]{5,}$")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    lower = char.lower()
    if len(lower) != 1:  # "İ" lowers to two characters: keep it, positions must not move
        lower = char
    base = unicodedata.normalize("NFD", lower)[0]
    return base


_FOLDED: dict[int, str] = {code: chr(code).lower() for code in range(ord("A"), ord("Z") + 1)}
"""A-Z, and each non-ASCII character met so far, → its folded form: ``str.translate`` folds a whole text in C (every
snippet folds its request's text; character by character in Python cost most of a search's CPU)."""


def fold(text: str) -> str:
    """Lower case without diacritics, one character for one: ``fold("Dörrarna Å")`` is ``"dorrarna a"``."""
    if text.isascii():
        return text.lower()
    for char in set(text):
        if ord(char) > 127 and ord(char) not in _FOLDED:
            _FOLDED[ord(char)] = _fold_char(char)
    return text.translate(_FOLDED)


def _phone_forms(text: str) -> Iterator[str]:
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) < 6:
            continue
        yield digits
        if match.group().startswith("+46"):
            yield "0" + digits[2:]


def searchable(text: str) -> str:
    """The folded text the index holds: the text itself, then its phone numbers as digits."""
    extra = " ".join(dict.fromkeys(_phone_forms(text)))
    folded = fold(text)
    return f"{folded}\n{extra}" if extra else folded


def values_of(data: Any) -> Iterator[str]:
    """Every text and number of a request's form data, in order (keys and booleans say nothing a person types)."""
    if isinstance(data, dict):
        for value in data.values():
            yield from values_of(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from values_of(value)
    elif isinstance(data, str):
        if data.strip():
            yield data.strip()
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield str(data)


def request_text(
    summary: str, data: Any, organisation: str, requester: str, *, skipped: frozenset[str] = frozenset()
) -> str:
    """What a customer may find a request by when it is filed: its title, its form's values, who filed it, for whom.

    ``skipped`` names form fields whose values are codes, not words (a choice's key like ``other``, an id); a value
    the title already holds is not repeated (the snippet would show it twice).
    """
    shown = {name: value for name, value in data.items() if name not in skipped} if isinstance(data, dict) else data
    values = [value for value in dict.fromkeys(values_of(shown)) if value not in summary]
    return "\n".join([summary, *values, organisation, requester])


def coded_fields(schema: type[BaseModel]) -> frozenset[str]:
    """The fields of a form whose values are codes: choices (``Literal``, enums) and references (``…_id``)."""
    return _coded_fields(schema)


@lru_cache(maxsize=256)
def _coded_fields(schema: type[BaseModel]) -> frozenset[str]:
    coded = set()
    for name, field in schema.model_fields.items():
        kinds = [field.annotation, *get_args(field.annotation)]
        if name.endswith("_id") or any(get_origin(kind) is Literal or _is_enum(kind) for kind in kinds):
            coded.add(name)
    return frozenset(coded)


def _is_enum(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Enum)


def number_of(query: str) -> int | None:
    """The request number in a search (``BB-123``, ``bb123``, ``123``), or None."""
    match = _NUMBER.match(query)
    return int(match.group(1)) if match else None


def terms_of(query: str) -> list[str]:
    """The folded words to look for: a phone number typed with spaces or dashes is one word of digits;
    otherwise the words of the query (letters and digits), short ones left out (see :data:`MIN_TERM`)."""
    if _PHONE_QUERY.match(query) and sum(c.isdigit() for c in query) >= MIN_TERM:
        return [re.sub(r"\D", "", query)]
    words = [fold(word) for word in _WORD.findall(query)]
    return list(dict.fromkeys(word for word in words if len(word) >= MIN_TERM))[:MAX_TERMS]


@lru_cache(maxsize=256)
def _written_digits(term: str) -> re.Pattern[str]:
    """Digits as a phone number is written: "5551234" in "073-555 12 34" (the index also holds the digits
    alone, so the match is found; this finds it in the text shown)."""
    return re.compile(r"[\s\-()]{0,2}".join(term))


def _spans(folded: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for term in terms:
        start = folded.find(term)
        if start == -1 and term.isdigit() and len(term) >= MIN_TERM:
            spans.extend(match.span() for match in _written_digits(term).finditer(folded))
        while start != -1:
            spans.append((start, start + len(term)))
            start = folded.find(term, start + len(term))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(text: str, terms: Iterable[str], *, width: int = 160) -> Markup | None:
    """The matching words in their context, HTML-escaped, each match in ``<mark>``; None if nothing matches.

    The window starts a little before the first match; an ellipsis says where the text was cut.
    """
    flat = " ".join(text.split())
    spans = _spans(fold(flat), terms)
    if not spans:
        return None
    first = spans[0][0]
    start = max(0, first - width // 3)
    if start:
        space = flat.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(flat), start + width)
    out: list[str] = ["…" if start else ""]
    position = start
    for span_start, span_end in spans:
        if span_start >= end:
            break
        span_end = min(span_end, end)
        out.append(str(escape(flat[position:span_start])))
        out.append(f"<mark>{escape(flat[span_start:span_end])}</mark>")
        position = span_end
    out.append(str(escape(flat[position:end])))
    out.append("…" if end < len(flat) else "")
    return Markup("".join(out))
