"""Every CSV file the portal writes: what Swedish Excel opens with a double-click, and never a formula.

The format: UTF-8 with a byte-order mark (else Excel shows "å" as "Ã¥"), ``;`` between fields (Swedish Excel
uses ``,`` as the decimal sign and expects ``;``), CRLF line ends, fields quoted only where needed.

CSV injection (OWASP): a spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula,
and a tab or carriage return in front hides such a start from a naive check. Text that begins with one of
them — an organisation's name, a note, a reason, a holder's name in an access-control system — is written
with a leading apostrophe, which spreadsheets show as text. Numbers are data, not formulas: a cell that is
only a number (``-540,00``, a credit) is written as it is, so that sums still add up.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_BYTES = 64 * 1024
""":func:`csv_chunks` hands out pieces of about this size: memory stays flat however many rows."""
_PLAIN_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")

Cell = str | int | Decimal | date | datetime | None
Row = Sequence[Cell]


def safe_cell(value: Cell) -> str:
    """One cell as text no spreadsheet will run: dates as ISO text, text that looks like a formula defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | Decimal):
        return str(value)
    if value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_row(cells: Iterable[Cell]) -> str:
    """One line of the file, CRLF included."""
    return next(_lines_of([cells]))


def csv_text(header: Sequence[Cell], rows: Iterable[Row]) -> str:
    """The whole file as text, byte-order mark first (for files small enough to hold in memory)."""
    return BOM + "".join(_lines_of(_with_header(header, rows)))


def csv_chunks(header: Sequence[Cell], rows: Iterable[Row], *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file as UTF-8 byte chunks of about ``chunk_bytes``, byte-order mark first; ``rows`` is read once, lazily."""
    pending: list[str] = [BOM]
    size = 0
    for line in _lines_of(_with_header(header, rows)):
        pending.append(line)
        size += len(line)
        if size >= chunk_bytes:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode("utf-8")


def _with_header(header: Sequence[Cell], rows: Iterable[Row]) -> Iterator[Iterable[Cell]]:
    yield header
    yield from rows


def _lines_of(rows: Iterable[Iterable[Cell]]) -> Iterator[str]:
    """One writer and one buffer for all the rows, each row's line handed out as it is written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
