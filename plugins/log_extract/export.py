"""Rows to files, as streams: an XLSX sheet written row by row to a temporary file (the CSV is the core's
``csv_chunks``, which writes every CSV of the portal: what Swedish Excel opens, and never a formula).

The XLSX writes every text as a string (``strings_to_formulas`` off), so a name in the access-control system
can never become a formula there either.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import xlsxwriter

CHUNK_BYTES = 64 * 1024
"""The XLSX file is streamed from its temporary file in pieces of this size."""
XLSX_MAX_ROWS = 1_048_576
"""Excel's limit, header row included."""

Cell = str | datetime
Row = Sequence[Cell]


class XlsxSheet:
    """One worksheet in ``constant_memory`` mode: each row is flushed to a temporary file as it is written.

    Use as a context manager; :meth:`write` takes rows in order, :meth:`close` finishes the file and
    :meth:`chunks` streams it. Rows past Excel's limit are not written; :attr:`overflowed` then says so.
    """

    def __init__(self, header: Sequence[str], column_widths: Sequence[int], sheet_name: str) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="bbportal-xlsx-")
        self.path = Path(self._folder.name) / "extract.xlsx"
        self._book = xlsxwriter.Workbook(
            str(self.path), {"constant_memory": True, "tmpdir": self._folder.name, "strings_to_formulas": False}
        )
        self._sheet = self._book.add_worksheet(sheet_name[:31])
        bold = self._book.add_format({"bold": True})
        self._time = self._book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for index, width in enumerate(column_widths):
            self._sheet.set_column(index, index, width)
        self._sheet.freeze_panes(1, 0)
        for column, title in enumerate(header):
            self._sheet.write_string(0, column, title, bold)
        self._next_row = 1
        self.overflowed = False
        self._closed = False

    def write(self, row: Row) -> None:
        if self._next_row >= XLSX_MAX_ROWS:
            self.overflowed = True
            return
        for column, cell in enumerate(row):
            if isinstance(cell, datetime):
                self._sheet.write_number(self._next_row, column, excel_serial(cell), self._time)
            elif cell:
                self._sheet.write_string(self._next_row, column, cell)
        self._next_row += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._book.close()

    def chunks(self, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        self.close()
        with self.path.open("rb") as handle:
            while chunk := handle.read(size):
                yield chunk

    def __enter__(self) -> XlsxSheet:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            self.close()
        finally:
            self._folder.cleanup()


EXCEL_EPOCH = datetime(1899, 12, 30)


def excel_serial(moment: datetime) -> float:
    """Days since Excel's epoch: what a date cell holds (xlsxwriter's own conversion costs far more per cell)."""
    return (moment.replace(tzinfo=None) - EXCEL_EPOCH).total_seconds() / 86400


def tee(rows: Iterable[Row], *sinks: Callable[[Row], Any]) -> Iterator[Row]:
    """Pass rows through while handing each to the sinks (the XLSX sheet, a counter): one pass over the log."""
    for row in rows:
        for sink in sinks:
            sink(row)
        yield row
