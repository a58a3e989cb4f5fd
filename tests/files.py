"""Small real files made in the test run: the corpus for type sniffing, uploads and mail attachments."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

_OOXML_MAIN = {
    "word": ("word/document.xml", "wordprocessingml.document.main+xml", "<w:document/>"),
    "xl": ("xl/workbook.xml", "spreadsheetml.sheet.main+xml", "<workbook/>"),
    "ppt": ("ppt/presentation.xml", "presentationml.presentation.main+xml", "<p:presentation/>"),
}


def png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG every browser draws (one colour)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    """The start of a JFIF file (signature, APP0, end of image): what a camera's file begins with."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"


def gif() -> bytes:
    """A 1×1 GIF."""
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
        b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def webp() -> bytes:
    payload = b"VP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
    return b"RIFF" + struct.pack("<I", 4 + len(payload)) + b"WEBP" + payload


def heic() -> bytes:
    """An ISO-BMFF file with the HEIC brand (what iPhones save)."""
    ftyp = b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + b"\x00\x00\x00\x08free"


def pdf(text: str = "Hej") -> bytes:
    """A minimal one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
    ]
    stream = f"BT /F1 12 Tf 20 50 Td ({text}) Tj ET".encode("latin-1")
    objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def ooxml(part: str = "word", *, macros: bool = False, content_types_first: bool = True) -> bytes:
    """A docx (``word``), xlsx (``xl``) or pptx (``ppt``) as Office writes them: a ZIP with the package parts."""
    main, subtype, xml = _OOXML_MAIN[part]
    content_types = (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Override PartName="/{main}" ContentType="application/vnd.openxmlformats-officedocument.{subtype}"/>'
        "</Types>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if content_types_first:
            archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", f'<Relationships><Relationship Target="{main}"/></Relationships>')
        archive.writestr(main, xml)
        if macros:
            archive.writestr(f"{part}/vbaProject.bin", b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
        if not content_types_first:
            archive.writestr("[Content_Types].xml", content_types)
    return buffer.getvalue()


def odf(kind: str = "text", *, mimetype_first: bool = True, macros: bool = False) -> bytes:
    """An OpenDocument file (``text`` odt, ``spreadsheet`` ods, ``presentation`` odp)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        mimetype = f"application/vnd.oasis.opendocument.{kind}"
        if mimetype_first:
            archive.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", "<office:document-content/>")
        archive.writestr("META-INF/manifest.xml", "<manifest:manifest/>")
        if macros:
            archive.writestr("Basic/Standard/Module1.xml", "<script:module/>")
        if not mimetype_first:
            archive.writestr("mimetype", mimetype)
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", "hej")
        archive.writestr("setup.exe", exe())
    return buffer.getvalue()


def zip_bomb(megabytes: int = 64) -> bytes:
    """Office-looking ZIP whose one part unpacks to ``megabytes`` of zeros from a few kilobytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            block = b"\x00" * (1024 * 1024)
            for _ in range(megabytes):
                part.write(block)
    return buffer.getvalue()


def exe() -> bytes:
    """The start of a Windows program (DOS stub, PE header offset)."""
    stub = bytearray(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 112)
    stub[0x3C:0x40] = struct.pack("<I", 0x80)
    return bytes(stub) + b"PE\x00\x00\x4c\x01\x03\x00" + b"\x00" * 64


def elf() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


def html() -> bytes:
    return b"<!DOCTYPE html>\n<html><body><script>document.location='https://evil.example/'</script></body></html>\n"


def svg_with_script() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


def ole(streams: dict[str, bytes], storages: tuple[str, ...] = ()) -> bytes:
    """A compound file (OLE2: .doc, .xls, .msi …) with the given root streams and empty storages.

    Streams are padded to 4096 bytes so they live in regular sectors (no mini stream is needed).
    """
    sector = 512
    free, end, fat_sector, no_stream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    entries: list[tuple[str, int, bytes]] = [(name, 2, data.ljust(4096, b"\x00")) for name, data in streams.items()]
    entries += [(name, 1, b"") for name in storages]
    # Siblings in a chain to the right, ordered as the format wants (shorter names first, then by upper case).
    entries.sort(key=lambda e: (len(e[0]), e[0].upper()))
    data_sectors: list[list[int]] = []
    next_free = 2  # sector 0: FAT, sector 1: directory
    for _name, _kind, data in entries:
        count = len(data) // sector
        data_sectors.append(list(range(next_free, next_free + count)))
        next_free += count
    fat = [fat_sector, end] + [free] * (next_free - 2)
    for chain in data_sectors:
        for index, number in enumerate(chain):
            fat[number] = chain[index + 1] if index + 1 < len(chain) else end
    fat += [free] * (sector // 4 - len(fat))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        encoded = (name + "\x00").encode("utf-16-le") if name else b""
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", no_stream, right, child)
            + b"\x00" * 16
            + b"\x00" * 4
            + b"\x00" * 16
            + struct.pack("<IIi", start, size, 0)
        )

    directory = entry("Root Entry", 5, 1 if entries else no_stream, no_stream, end, 0)
    for index, (name, kind, data) in enumerate(entries, start=1):
        right = index + 1 if index < len(entries) else no_stream
        start = data_sectors[index - 1][0] if data else end
        directory += entry(name, kind, no_stream, right, start, len(data) if kind == 2 else 0)
    directory = directory.ljust(sector * ((len(directory) + sector - 1) // sector), b"\x00")
    assert len(directory) == sector, "the test builder keeps the directory to one sector (at most 3 entries)"
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + struct.pack("<I", free) * 108
    )
    body = b"".join(struct.pack("<I", value) for value in fat) + directory
    for _name, _kind, data in entries:
        body += data
    return header + body


def legacy_doc(*, macros: bool = False) -> bytes:
    return ole({"WordDocument": b"\xec\xa5\xc1\x00" + b"Hej"}, ("Macros",) if macros else ())


def legacy_xls() -> bytes:
    return ole({"Workbook": b"\x09\x08\x10\x00"})


def msi() -> bytes:
    """A Windows installer is an OLE2 file too, with none of the Office streams."""
    return ole({"\x05SummaryInformation": b"\xfe\xff", "Property": b"ProductName"})
