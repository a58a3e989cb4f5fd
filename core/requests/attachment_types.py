"""What a file really is, decided from its bytes: the kinds people may attach; everything else is refused.

Names and the type a browser or mail client claims are never trusted. Images and PDF are recognised by
their signatures (puremagic); ZIP and OLE2 containers are opened far enough to tell an Office or
OpenDocument file from any other archive or an installer, without unpacking anything; text must decode as
UTF-8 or Latin-1/Windows-1252 with no NUL or other control bytes and must not be markup or a script.
"""

from __future__ import annotations

import codecs
import mimetypes
import re
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import puremagic

from core.platform.i18n import N_

HEAD_BYTES = 8192
TEXT_SCAN_BYTES = 64 * 1024
MAX_ARCHIVE_ENTRIES = 10_000
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
"""An Office file that claims to unpack to more than this is treated as a zip bomb, not a document."""
MAX_PACKING_RATIO = 1000

NOT_ALLOWED = N_("the file type is not allowed")
EMPTY = N_("the file is empty")
MACROS = N_("documents with macros are not allowed")
DAMAGED = N_("the file is damaged or unusually large when unpacked")


@dataclass(frozen=True)
class FileKind:
    """An allowed kind of file: the content type it is served with and the file-name extensions it may carry."""

    content_type: str
    extension: str
    """The extension a stored name gets when it has none of ``extensions``."""
    extensions: tuple[str, ...] = ()

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def shows_inline(self) -> bool:
        """Images every browser draws; HEIC is offered as a download only."""
        return self.content_type in ("image/jpeg", "image/png", "image/gif", "image/webp")

    def accepts_extension(self, suffix: str) -> bool:
        return suffix.lower() in (self.extension, *self.extensions)


class Refused(Exception):
    """The file is not one people may attach; ``reason`` is a message id (lower case, to follow a file name)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
KINDS: dict[str, FileKind] = {
    kind.content_type: kind
    for kind in (
        FileKind("image/jpeg", ".jpg", (".jpeg", ".jpe", ".jfif")),
        FileKind("image/png", ".png"),
        FileKind("image/gif", ".gif"),
        FileKind("image/webp", ".webp"),
        FileKind("image/heic", ".heic", (".heif",)),
        FileKind("image/heif", ".heif", (".heic",)),
        FileKind("application/pdf", ".pdf"),
        FileKind(_OOXML + "wordprocessingml.document", ".docx"),
        FileKind(_OOXML + "spreadsheetml.sheet", ".xlsx"),
        FileKind(_OOXML + "presentationml.presentation", ".pptx"),
        FileKind(_ODF + "text", ".odt"),
        FileKind(_ODF + "spreadsheet", ".ods"),
        FileKind(_ODF + "presentation", ".odp"),
        FileKind("application/msword", ".doc", (".dot",)),
        FileKind("application/vnd.ms-excel", ".xls"),
        FileKind("application/vnd.ms-powerpoint", ".ppt"),
        FileKind("text/plain", ".txt", (".log", ".text")),
        FileKind("text/csv", ".csv"),
        FileKind("text/tab-separated-values", ".tsv"),
    )
}
ACCEPT = ",".join(["image/*", *sorted({ext for kind in KINDS.values() for ext in (kind.extension, *kind.extensions)})])
"""The file inputs' ``accept`` list: a hint for the browser's file picker; the content is what counts."""
_SIGNATURE_KINDS = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/heif", "application/pdf"}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_OOXML_PARTS = (
    ("word/", "wordprocessingml.document"),
    ("xl/", "spreadsheetml.sheet"),
    ("ppt/", "presentationml.presentation"),
)
_OLE_STREAMS = (
    ("WordDocument", "application/msword"),
    ("Workbook", "application/vnd.ms-excel"),
    ("Book", "application/vnd.ms-excel"),
    ("PowerPoint Document", "application/vnd.ms-powerpoint"),
)
_OLE_MACROS = {"macros", "_vba_project_cur", "vba", "_vba_project"}
_MARKUP_STARTS = ("<", "#!", "{\\rtf", "%!ps")
_ACTIVE_CONTENT = ("<script", "<html", "<svg", "<iframe", "<body", "<!doctype html", "<object", "<embed")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
"""Control characters no text file has (tab, line feed, form feed and carriage return are fine)."""
_WINDOWS_BYTES = re.compile(b"[\x80-\x9f]")


@dataclass(frozen=True)
class Detected:
    kind: FileKind
    charset: str = ""
    """For text: ``utf-8``, ``windows-1252`` or ``iso-8859-1``."""

    @property
    def content_type(self) -> str:
        return f"{self.kind.content_type}; charset={self.charset}" if self.charset else self.kind.content_type


def detect(stream: BinaryIO, filename: str = "") -> Detected:
    """The kind of the file in ``stream`` (seekable; left at position 0), or :class:`Refused` saying why not.

    ``filename`` only chooses between labels of the same content (``.csv`` text is served as CSV).
    """
    stream.seek(0)
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    try:
        if not head:
            raise Refused(EMPTY)
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return Detected(_zip_kind(stream))
        if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
            return Detected(_ole_kind(stream))
        signature = _signature_kind(head)
        if signature is not None:
            return Detected(signature)
        return _text_kind(stream, filename)
    finally:
        stream.seek(0)


def _signature_kind(head: bytes) -> FileKind | None:
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    best = max((m.confidence for m in matches), default=0.0)
    for match in matches:
        # Only header matches: puremagic would read the end of our head sample as the file's footer.
        if match.mime_type in _SIGNATURE_KINDS and match.offset >= 0 and match.confidence >= best:
            if match.mime_type == "image/heif":
                brand = head[8:12]
                return KINDS["image/heic"] if brand in _HEIC_BRANDS else KINDS["image/heif"]
            return KINDS[match.mime_type]
    return None


def _zip_kind(stream: BinaryIO) -> FileKind:
    """An OOXML or ODF document; any other archive (or one that would unpack to a bomb) is refused."""
    try:
        archive = zipfile.ZipFile(stream)
        entries = archive.infolist()
        if len(entries) > MAX_ARCHIVE_ENTRIES:
            raise Refused(DAMAGED)
        unpacked = sum(entry.file_size for entry in entries)
        packed = sum(entry.compress_size for entry in entries)
        if unpacked > MAX_UNPACKED_BYTES or unpacked > MAX_PACKING_RATIO * max(packed, 1024):
            raise Refused(DAMAGED)
        names = [entry.filename for entry in entries]
        if entries and names[0] == "mimetype":
            if entries[0].file_size > 100:
                raise Refused(NOT_ALLOWED)
            declared = archive.read(entries[0]).decode("ascii", errors="replace").strip()
            kind = KINDS.get(declared)
            if kind is None or not declared.startswith(_ODF):
                raise Refused(NOT_ALLOWED)
            if any(name.startswith(("Basic/", "Scripts/")) for name in names):
                raise Refused(MACROS)
            return kind
        if "[Content_Types].xml" in names:
            lowered = [name.lower() for name in names]
            if any(name.endswith(("vbaproject.bin", "vbadata.xml")) for name in lowered):
                raise Refused(MACROS)
            for prefix, subtype in _OOXML_PARTS:
                if any(name.startswith(prefix) for name in names):
                    return KINDS[_OOXML + subtype]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError):
        raise Refused(DAMAGED) from None
    raise Refused(NOT_ALLOWED)


def _ole_kind(stream: BinaryIO) -> FileKind:
    """A legacy Word, Excel or PowerPoint file; installers (.msi), Outlook items and macros are refused."""
    import olefile

    try:
        with olefile.OleFileIO(stream) as ole:
            entries = ole.listdir(streams=True, storages=True)
    except Exception:  # olefile raises plain exceptions of many kinds on damaged input
        raise Refused(DAMAGED) from None
    parts = {part.lower() for entry in entries for part in entry}
    tops = {entry[0] for entry in entries if entry}
    if parts & _OLE_MACROS:
        raise Refused(MACROS)
    for name, content_type in _OLE_STREAMS:
        if name in tops:
            return KINDS[content_type]
    raise Refused(NOT_ALLOWED)


def _text_kind(stream: BinaryIO, filename: str) -> Detected:
    """Plain text or CSV: the whole file decodes, without NUL or control bytes, and is not markup or a script."""
    if _decodes_as_text(stream, "utf-8-sig"):
        charset, codec = "utf-8", "utf-8-sig"
    elif _decodes_as_text(stream, "windows-1252"):
        # Latin-1 and Windows-1252 differ only in 0x80–0x9F (control codes in Latin-1, € and quotes in 1252).
        charset, codec = ("windows-1252" if _has_windows_bytes(stream) else "iso-8859-1"), "windows-1252"
    else:
        raise Refused(NOT_ALLOWED)
    stream.seek(0)
    sample = stream.read(TEXT_SCAN_BYTES).decode(codec, errors="ignore")
    opening = sample.lstrip(" \t\r\n\f\ufeff").lower()
    if opening.startswith(_MARKUP_STARTS) or any(tag in sample.lower() for tag in _ACTIVE_CONTENT):
        raise Refused(NOT_ALLOWED)
    suffix = _suffix(filename)
    kind = next(
        (k for k in KINDS.values() if k.content_type.startswith("text/") and k.accepts_extension(suffix)),
        KINDS["text/plain"],
    )
    return Detected(kind, charset)


def _decodes_as_text(stream: BinaryIO, encoding: str) -> bool:
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        while chunk := stream.read(64 * 1024):
            if not _printable(decoder.decode(chunk)):
                return False
        return _printable(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return False


def _has_windows_bytes(stream: BinaryIO) -> bool:
    stream.seek(0)
    while chunk := stream.read(64 * 1024):
        if _WINDOWS_BYTES.search(chunk):
            return True
    return False


def _printable(text: str) -> bool:
    return _CONTROLS.search(text) is None


def _suffix(filename: str) -> str:
    stem, dot, suffix = filename.rpartition(".")
    return f".{suffix.lower()}" if dot and stem and 0 < len(suffix) <= 10 else ""


def name_for(filename: str, kind: FileKind) -> str:
    """``filename`` with an extension that matches ``kind``: kept when it does, replaced when it names another
    known type (``virus.exe`` that is text becomes ``virus.txt``), appended otherwise (``protokoll.2024``)."""
    suffix = _suffix(filename)
    if suffix and kind.accepts_extension(suffix):
        return filename
    if suffix and (suffix in mimetypes.types_map or suffix in _KNOWN_EXTENSIONS):
        return filename[: -len(suffix)] + kind.extension
    return filename + kind.extension


# fmt: off
_OTHER_EXTENSIONS = {
    ".exe", ".dll", ".scr", ".bat", ".cmd", ".com", ".msi", ".ps1", ".vbs", ".js", ".jar", ".lnk", ".hta", ".sh",
    ".py", ".svg", ".html", ".htm", ".zip", ".rar", ".7z", ".iso", ".img", ".docm", ".xlsm", ".pptm",
}
# fmt: on
_KNOWN_EXTENSIONS = {ext for kind in KINDS.values() for ext in (kind.extension, *kind.extensions)} | _OTHER_EXTENSIONS
"""Extensions that name a type: replaced rather than kept in front of the right one."""
