"""What a file really is: the allowed kinds by their bytes, hostile files refused whatever their name says."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.requests.attachment_types import DAMAGED, EMPTY, KINDS, MACROS, NOT_ALLOWED, Refused, detect, name_for
from tests import files

OOXML = "application/vnd.openxmlformats-officedocument."
ODF = "application/vnd.oasis.opendocument."


def kind_of(content: bytes, name: str = "") -> str:
    return detect(io.BytesIO(content), name).content_type


def refusal(content: bytes, name: str = "") -> str:
    with pytest.raises(Refused) as caught:
        detect(io.BytesIO(content), name)
    return caught.value.reason


ALLOWED: list[tuple[str, Callable[[], bytes], str]] = [
    ("png", files.png, "image/png"),
    ("jpeg", files.jpeg, "image/jpeg"),
    ("gif", files.gif, "image/gif"),
    ("webp", files.webp, "image/webp"),
    ("heic", files.heic, "image/heic"),
    ("pdf", files.pdf, "application/pdf"),
    ("docx", lambda: files.ooxml("word"), OOXML + "wordprocessingml.document"),
    ("xlsx", lambda: files.ooxml("xl"), OOXML + "spreadsheetml.sheet"),
    ("pptx", lambda: files.ooxml("ppt"), OOXML + "presentationml.presentation"),
    (
        "docx, content types last",
        lambda: files.ooxml("word", content_types_first=False),
        OOXML + "wordprocessingml.document",
    ),
    ("odt", lambda: files.odf("text"), ODF + "text"),
    ("ods", lambda: files.odf("spreadsheet"), ODF + "spreadsheet"),
    ("odp", lambda: files.odf("presentation"), ODF + "presentation"),
    ("doc", files.legacy_doc, "application/msword"),
    ("xls", files.legacy_xls, "application/vnd.ms-excel"),
]


@pytest.mark.parametrize(("label", "make", "expected"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_allowed_kinds_are_recognised_by_content_whatever_the_name(
    label: str, make: Callable[[], bytes], expected: str
) -> None:
    content = make()
    assert kind_of(content, "no-extension") == expected
    assert kind_of(content, "misleading.exe") == expected
    assert expected in KINDS


def test_text_in_utf8_latin1_and_windows_1252_is_text_with_its_charset() -> None:
    assert kind_of("Hej Åsa,\nDörren går inte att öppna.\n".encode()) == "text/plain; charset=utf-8"
    assert kind_of("\ufeffMed BOM: åäö\r\n".encode()) == "text/plain; charset=utf-8"
    assert kind_of("Åsa öppnar dörren\n".encode("latin-1")) == "text/plain; charset=iso-8859-1"
    assert kind_of("Pris – 20 € ”citat”\n".encode("cp1252")) == "text/plain; charset=windows-1252"
    assert kind_of(b"Namn;Tagg\nAsa;0412 3344 55\n", "taggar.csv") == "text/csv; charset=utf-8"
    assert kind_of(b"a\tb\n1\t2\n", "export.tsv") == "text/tab-separated-values; charset=utf-8"
    assert kind_of(b"2026-11-27 10:00 Door 3 opened\n", "events.log") == "text/plain; charset=utf-8"


HOSTILE: list[tuple[str, bytes, str, str]] = [
    ("Windows program renamed .pdf", files.exe(), "faktura.pdf", NOT_ALLOWED),
    ("Linux program", files.elf(), "tool", NOT_ALLOWED),
    ("HTML renamed .txt", files.html(), "läs mig.txt", NOT_ALLOWED),
    ("HTML after some text", b"Hej!\n\n<script>alert(1)</script>\n", "hej.txt", NOT_ALLOWED),
    ("SVG with a script", files.svg_with_script(), "logo.png", NOT_ALLOWED),
    ("XML", b'<?xml version="1.0"?><a/>', "data.txt", NOT_ALLOWED),
    ("shell script", b"#!/bin/sh\nrm -rf /\n", "notes.txt", NOT_ALLOWED),
    ("RTF", b"{\\rtf1\\ansi Hej}", "brev.doc", NOT_ALLOWED),
    ("arbitrary ZIP", files.plain_zip(), "bilder.docx", NOT_ALLOWED),
    ("zip bomb dressed as docx", files.zip_bomb(64), "rapport.docx", DAMAGED),
    ("damaged ZIP", b"PK\x03\x04" + b"\x00" * 40, "trasig.xlsx", DAMAGED),
    ("Word with macros (docm)", files.ooxml("word", macros=True), "avtal.docx", MACROS),
    ("OpenDocument with Basic macros", files.odf("text", macros=True), "brev.odt", MACROS),
    ("legacy Word with macros", files.legacy_doc(macros=True), "brev.doc", MACROS),
    ("Windows installer (OLE2)", files.msi(), "setup.doc", NOT_ALLOWED),
    ("ODF-like ZIP whose mimetype is not first", files.odf(mimetype_first=False), "brev.odt", NOT_ALLOWED),
    ("binary with NUL bytes", b"abc\x00def", "data.txt", NOT_ALLOWED),
    ("binary without NUL bytes", bytes(range(1, 32)) * 4, "data.csv", NOT_ALLOWED),
    ("empty file", b"", "tom.pdf", EMPTY),
]


@pytest.mark.parametrize(("label", "content", "name", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_and_unknown_files_are_refused_with_a_reason(
    label: str, content: bytes, name: str, reason: str
) -> None:
    assert refusal(content, name) == reason


def test_a_zip_bomb_is_refused_without_unpacking_it() -> None:
    bomb = files.zip_bomb(256)
    assert len(bomb) < 1024 * 1024  # 256 MB of zeros packed into a few hundred kilobytes
    started = time.perf_counter()
    assert refusal(bomb, "rapport.xlsx") == DAMAGED
    assert time.perf_counter() - started < 1.0


def test_detect_leaves_the_stream_at_the_start() -> None:
    stream = io.BytesIO(files.pdf())
    stream.seek(17)
    detect(stream, "a.pdf")
    assert stream.tell() == 0


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("foto.jpeg", "image/jpeg", "foto.jpeg"),
        ("foto.JPG", "image/jpeg", "foto.JPG"),
        ("foto", "image/jpeg", "foto.jpg"),
        ("faktura.pdf", "image/png", "faktura.png"),
        ("virus.exe", "text/plain", "virus.txt"),
        ("protokoll 2024.03.01", "text/plain", "protokoll 2024.03.01.txt"),
        ("rapport.docx", OOXML + "wordprocessingml.document", "rapport.docx"),
        ("rapport.doc", OOXML + "wordprocessingml.document", "rapport.docx"),
        ("iphone.HEIC", "image/heic", "iphone.HEIC"),
    ],
)
def test_the_extension_is_made_to_match_the_content(name: str, content_type: str, expected: str) -> None:
    assert name_for(name, KINDS[content_type]) == expected


@given(st.binary(max_size=2048))
def test_any_bytes_are_either_a_known_kind_or_refused(content: bytes) -> None:
    try:
        detected = detect(io.BytesIO(content), "upload")
    except Refused as exc:
        assert exc.reason in (NOT_ALLOWED, EMPTY, MACROS, DAMAGED)
        return
    assert detected.kind.content_type in KINDS
    if detected.charset:  # accepted as text: it really decodes, and holds no NUL
        content.decode("utf-8-sig" if detected.charset == "utf-8" else "cp1252")
        assert b"\x00" not in content


def _markup(text: str) -> bool:
    lowered = text.lower()
    return lowered.lstrip(" \t\r\n\f\ufeff").startswith(("<", "#!", "{\\rtf", "%!ps")) or any(
        tag in lowered
        for tag in ("<script", "<html", "<svg", "<iframe", "<body", "<!doctype html", "<object", "<embed")
    )


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=400))
def test_ordinary_text_is_accepted_as_text_unless_it_is_markup_or_a_script(text: str) -> None:
    assume(not _markup(text))
    detected = detect(io.BytesIO(text.encode()), "notes.txt")
    # A text that happens to start with a signature ("GIF89a", "%PDF-") is taken as that kind, which is harmless.
    assert detected.content_type == "text/plain; charset=utf-8" or not detected.charset
