"""Serving a stored file: streamed from the storage, never sniffed by the browser, never run as a page."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from litestar import Response
from litestar.response import Stream

from core.models import Attachment
from core.platform.errors import NotFound
from core.platform.storage import StorageError, read_chunks
from core.requests.attachments import view
from core.web.types import HttpRequest

if TYPE_CHECKING:
    from core.portal import Portal

NO_COMPRESSION = "no_compression"
"""Route option: files are sent as stored (images and Office files are compressed already)."""

# A stored file is data, never a document the browser may run: no scripts, no plugins, no framing, even if
# a browser ignored the declared type.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; frame-ancestors 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "private, no-cache",
}


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """RFC 6266/5987: an ASCII fallback for old clients and the exact UTF-8 name (``Åtgärd.pdf``) for the rest."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    ascii_name = "".join(ch if ch.isprintable() and ch not in '"\\;' else "_" for ch in ascii_name).strip() or "fil"
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(portal: Portal, request: HttpRequest, row: Attachment, *, inline: bool = False) -> Response[Any]:
    """The file as a download (images the browser draws may be shown inline, for thumbnails).

    The ETag is the file's SHA-256, so a thumbnail the browser already has costs a 304 and no read.
    """
    etag = f'"{row.sha256}"'
    show_inline = inline and view(row).shows_inline
    headers = {
        **SECURITY_HEADERS,
        "ETag": etag,
        "Content-Disposition": content_disposition(row.filename, inline=show_inline),
    }
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    stack = ExitStack()
    try:
        handle = stack.enter_context(portal.storage.open(row.storage_key))
    except StorageError:
        stack.close()
        request.logger.error("Attachment %s is missing from the storage (%s)", row.id, row.storage_key)
        raise NotFound("The file is no longer available.") from None

    def chunks() -> Iterator[bytes]:
        with stack:
            yield from read_chunks(handle)

    headers["Content-Length"] = str(row.size)
    # The stored type as it is ("text/plain; charset=windows-1252"): given as media_type, Litestar would add a
    # second charset to text types, and a route's declared media_type would replace it.
    headers["Content-Type"] = row.content_type
    return Stream(chunks(), media_type=row.content_type, headers=headers)
