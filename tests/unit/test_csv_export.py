"""The one CSV writer: whatever text goes in, no cell comes out a formula, and the text is all still there."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.platform.csv_export import BOM, FORMULA_START, csv_chunks, csv_row, csv_text, safe_cell

PLAIN_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
formula_like = st.builds(lambda start, rest: start + rest, st.sampled_from(FORMULA_START), texts)
cells = st.one_of(texts, formula_like)
rows = st.lists(st.lists(cells, min_size=1, max_size=6), max_size=12)


def read(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))


@given(header=st.lists(cells, min_size=1, max_size=6), body=rows)
def test_no_cell_is_read_back_as_a_formula_and_nothing_is_lost(header: list[str], body: list[list[str]]) -> None:
    read_back = read(csv_text(header, body))
    assert len(read_back) == len(body) + 1
    for written, original in zip(read_back, [header, *body], strict=True):
        assert len(written) == len(original)
        for cell, text in zip(written, original, strict=True):
            assert not cell.startswith(FORMULA_START) or PLAIN_NUMBER.fullmatch(cell), cell
            assert cell == text or (cell == "'" + text and text.startswith(FORMULA_START))


@given(header=st.lists(cells, min_size=1, max_size=4), body=rows, size=st.integers(1, 300))
def test_the_chunks_are_the_text_whatever_their_size(header: list[str], body: list[list[str]], size: int) -> None:
    assert b"".join(csv_chunks(header, body, chunk_bytes=size)) == csv_text(header, body).encode("utf-8")


@given(number=st.decimals(allow_nan=False, allow_infinity=False, places=2))
def test_numbers_stay_numbers_negative_ones_included(number: Decimal) -> None:
    written = f"{number:f}".replace(".", ",")
    assert safe_cell(written) == written and safe_cell(number) == str(number)


def test_the_format_swedish_excel_opens() -> None:
    text = csv_text(["Namn", "Belopp"], [["Brf; Testet", "-540,00"], ["=1+1", date(2026, 11, 27)]])
    assert text == '\ufeffNamn;Belopp\r\n"Brf; Testet";-540,00\r\n\'=1+1;2026-11-27\r\n'
    assert csv_row(["@SUM(A1)", "\t=1", None, 3, datetime(2026, 11, 27, 10, 0, tzinfo=UTC)]) == (
        "'@SUM(A1);'\t=1;;3;2026-11-27 10:00:00\r\n"
    )
    assert safe_cell("-") == "'-" and safe_cell("+46 70 123") == "'+46 70 123"


def test_no_other_module_of_the_portal_writes_csv() -> None:
    """One writer of CSV files: a new export that brings its own ``csv.writer`` would skip the defusing."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    writers = [
        str(path.relative_to(root))
        for folder in ("core", "plugins")
        for path in (root / folder).rglob("*.py")
        if "/tests/" not in path.as_posix()
        and re.search(r"csv\.(writer|DictWriter)\(", path.read_text(encoding="utf-8"))
    ]
    assert writers == ["core/platform/csv_export.py"]
