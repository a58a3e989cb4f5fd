"""Reading a mail: every common charset and transfer encoding, mislabelled text, flowed text, HTML-only mail.

Nothing here trusts the mail: a declared charset may be wrong or unknown, a part may have none, HTML may
be anything. Text always comes out as a ``str`` that a database can store (no NUL, no lone surrogates).
"""

from __future__ import annotations

import binascii
import codecs
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from html.parser import HTMLParser

# Labels that in practice mean Windows-1252 (as browsers read them): Outlook labels 1252 text as Latin-1.
_WESTERN = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii", "windows-1252", "cp1252"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clearing
    r"|\x1b\][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"  # OSC: window titles, hyperlinks (to BEL or ST)
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)"  # DCS, SOS, PM, APC (to ST)
    r"|\x1b[ -/]*[0-~]"  # the short escapes: character sets, resets, keypad modes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # CSI as one 8-bit character
    r"|\x9d[^\x07\x9c\n]*(?:\x07|\x9c)"  # OSC as one 8-bit character
)
"""Terminal escape sequences, removed whole: removing only ESC would leave ``[31m`` in the text."""
_HEADER_NAME_SPACE = re.compile(
    rb"^(Content-[A-Za-z-]+|MIME-Version|Subject|From|Sender|To|Cc|Message-ID|In-Reply-To|References"
    rb"|Auto-Submitted|Precedence)[ \t]+:",
    re.I | re.M,
)
"""A header name with blanks before its colon (RFC 5322's obsolete syntax); Python's parser misses it."""
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)(?:\?=)?")


def parse_mail(raw: bytes) -> EmailMessage:
    message = message_from_bytes(_HEADER_NAME_SPACE.sub(rb"\1:", raw), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def storable(text: str) -> str:
    """Text a database takes: terminal escape sequences, control characters (NUL above all) and lone
    surrogates removed."""
    text = text.encode("utf-8", errors="replace").decode("utf-8") if _has_surrogates(text) else text
    return _CONTROL.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def header(message: Message, name: str) -> str:
    """A header as storable text; a header the parser cannot make sense of reads as its raw value."""
    try:
        value = message.get(name)
    except Exception:  # a header so broken that even the lenient parser fails: keep what was sent
        value = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
    text = " ".join(str(value or "").split())
    if "\ufffd" in text:  # 8-bit bytes sent raw in a header (RFC 6532 allows UTF-8; some send Latin-1)
        raw = next((str(v) for k, v in message.raw_items() if k.lower() == name.lower()), "")
        if _has_surrogates(raw):
            text = " ".join(decode_bytes(raw.encode("utf-8", "surrogateescape"), None).split())
    if "=?" in text:  # an encoded word the parser left alone: unterminated, or broken otherwise
        text = " ".join(_ENCODED_WORD.sub(_decode_word, text).split())
    return storable(text)


def _decode_word(match: re.Match[str]) -> str:
    """One RFC 2047 encoded word, read as leniently as a body: a missing ``?=``, bad padding, any label."""
    charset, encoding, data = match.group(1).split("*")[0], match.group(2).lower(), match.group(3)
    if encoding == "b":
        raw, _cut = _base64(data.encode("ascii", "replace"))
    else:
        raw = quopri.decodestring(data.replace("_", " ").encode("ascii", "replace"), header=False)
    return decode_bytes(raw, charset)


def transfer_encoding(part: Message) -> str:
    """The part's Content-Transfer-Encoding in any case, quoted, padded or with a comment."""
    value = next((str(v) for k, v in part.raw_items() if k.strip().lower() == "content-transfer-encoding"), "")
    return re.sub(r"\([^)]*\)", "", value).strip().strip('"').strip().lower()


def _base64(data: bytes) -> tuple[bytes, bool]:
    """Base64 decoded leniently; True when it was cut short (what decodes is kept)."""
    try:
        return binascii.a2b_base64(data), False
    except binascii.Error:
        pass
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", data.split(b"=", 1)[0])
    whole = len(clean) - len(clean) % 4
    rest = clean[whole:]
    kept = binascii.a2b_base64(clean[:whole]) if whole else b""
    if len(rest) >= 2:  # two or three characters still carry one or two bytes
        kept += binascii.a2b_base64(rest + b"=" * (4 - len(rest)))
    return kept, True


def payload_of(part: Message) -> tuple[bytes, bool]:
    """A leaf part's bytes, whatever its transfer encoding's spelling; True when its base64 was cut short."""
    encoding = transfer_encoding(part)
    if encoding not in ("base64", "quoted-printable"):
        decoded = part.get_payload(decode=True)
        return (decoded if isinstance(decoded, bytes) else b""), False
    payload = part.get_payload()
    if not isinstance(payload, str):
        return b"", False
    try:
        data = payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        data = payload.encode("raw-unicode-escape")
    if encoding == "base64":
        return _base64(data)
    return quopri.decodestring(data), False


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Decode body bytes whatever their label says.

    Valid UTF-8 with non-ASCII characters under a Western label is taken as UTF-8 (a mislabelled mail:
    Latin-1 text is almost never valid UTF-8 by accident); Western labels are read as Windows-1252; an
    unknown label or bytes that do not fit the label fall back to UTF-8, then Windows-1252, then Latin-1.
    """
    label = (declared or "").strip().strip('"').lower()
    if not label or label in _WESTERN:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if not text.isascii() or not label:
                return text
    attempts = ["cp1252" if label in _WESTERN else label] if label else []
    attempts += ["utf-8", "cp1252"]
    for codec in attempts:
        try:
            codecs.lookup(codec)
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1")


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 ``format=flowed``: a line ending in a space continues on the next line of the same depth."""
    out: list[str] = []
    pending = ""
    pending_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing (or the space after the quote marks)
        if pending and depth != pending_depth:
            out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
            pending = ""
        flowed = content.endswith(" ") and content != "-- "
        if flowed:
            pending += content[:-1] if delsp else content
            pending_depth = depth
            continue
        whole = pending + content
        pending = ""
        out.append(">" * depth + (" " if depth else "") + whole)
    if pending:
        out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
    return "\n".join(out)


def _whole_characters(data: bytes) -> bytes:
    """UTF-8 bytes without the half character a cut left at their end."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=False).encode("utf-8")
    except UnicodeDecodeError:
        return data  # not UTF-8 at all: decode_bytes finds what it is


def decoded_text(part: Message) -> str:
    """The text of one text part, decoded and, when flowed, unwrapped."""
    return _decoded(part)[0]


def _decoded(part: Message) -> tuple[str, bool]:
    payload, cut = payload_of(part)
    charset = part.get_content_charset()
    if cut and (charset or "utf-8").lower().replace("_", "-") in ("utf-8", "utf8", *_WESTERN):
        payload = _whole_characters(payload)
    text = decode_bytes(payload, charset)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if str(part.get_param("format", "", header="content-type")).lower() == "flowed":
        delsp = str(part.get_param("delsp", "", header="content-type")).lower() == "yes"
        text = _unflow(text, delsp)
    return text, cut


class _Text(HTMLParser):
    """HTML to text. Quoted parts are marked with ``> `` (cut later); everything after a client's reply
    separator (Outlook's ``divRplyFwdMsg``/``appendonsend``, Thunderbird's ``moz-cite-prefix``) is dropped."""

    LINES = {"div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre", "hr"}
    PARAGRAPHS = {"p", "blockquote"}
    CUT_IDS = {"divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container"}
    CUT_CLASSES = {"moz-cite-prefix", "yahoo_quoted", "gmail_quote_container"}
    QUOTE_CLASSES = {"gmail_quote", "gmail_attr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote: list[str] = []
        self.cut = False

    def _break(self, paragraph: bool = False) -> None:
        text = "".join(self.parts[-3:])
        if not text.endswith("\n"):
            self.parts.append("\n")
        if paragraph and not text.endswith("\n\n"):
            self.parts.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        classes = set(values.get("class", "").lower().split())
        if values.get("id", "").lower() in self.CUT_IDS or classes & self.CUT_CLASSES:
            self.cut = True
        if tag in ("style", "script", "head", "title"):
            self.skip += 1
        if tag == "blockquote" or (tag == "div" and classes & self.QUOTE_CLASSES):
            self.quote.append(tag)
        elif tag == "div" and self.quote:
            self.quote.append("")  # a plain div inside a quote: keeps the nesting count honest
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and "msonormal" in classes:
            self._break()
        elif tag in self.PARAGRAPHS:
            self._break(paragraph=True)
        elif tag in self.LINES:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head", "title") and self.skip:
            self.skip -= 1
        if tag in ("blockquote", "div") and self.quote:
            self.quote.pop()
        if tag in self.PARAGRAPHS:
            self._break(paragraph=True)
        elif tag in self.LINES and tag != "br":
            self._break()

    def handle_data(self, data: str) -> None:
        if self.skip or self.cut:
            return
        if any(self.quote):
            data = "\n".join("> " + line for line in data.splitlines())
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = []
    for line in "".join(parser.parts).replace("\xa0", " ").splitlines():
        lines.append(line if line.startswith(">") else " ".join(line.split()))
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


@dataclass(frozen=True)
class Body:
    """A mail's text and whether some of it was cut short in transit (truncated base64)."""

    text: str
    cut: bool = False


def _is_text(part: Message) -> bool:
    return (
        part.get_content_maintype() == "text"
        and part.get_content_subtype() in ("plain", "html")
        and part.get_content_disposition() != "attachment"
        and not part.get_filename()
    )


def _text_parts(part: Message, depth: int = 0) -> Iterator[Message]:
    """The parts a mail's text is made of, in order: one rendering of each alternative (plain text when
    there is one), and every inline text part of a mixed or related mail (the text an image or a file
    split in two, as Apple Mail and phones send it)."""
    if depth > 20:
        return
    if not part.is_multipart():
        if _is_text(part):
            yield part
        return
    payload = part.get_payload()
    subs = [sub for sub in payload if isinstance(sub, Message)] if isinstance(payload, list) else []
    if part.get_content_subtype() == "alternative":
        for wanted in ("plain", "html"):
            for sub in subs:
                found = list(_text_parts(sub, depth + 1))
                if found and all(p.get_content_subtype() == wanted for p in found):
                    yield from found
                    return
        for sub in reversed(subs):  # mixed renderings: the last is the richest (RFC 2046)
            found = list(_text_parts(sub, depth + 1))
            if found:
                yield from found
                return
        return
    for sub in subs:
        if sub.get_content_maintype() != "message":  # a forwarded mail is an attachment, not the text
            yield from _text_parts(sub, depth + 1)


def read_body(message: EmailMessage) -> Body:
    """The mail's text (HTML read as text), storable; empty when the mail has no text."""
    pieces: list[str] = []
    cut = False
    whole = not message.is_multipart() and message.get_content_maintype() == "text"
    for part in [message] if whole else _text_parts(message):
        text, part_cut = _decoded(part)
        cut = cut or part_cut
        text = html_to_text(text) if part.get_content_subtype() == "html" else text
        if pieces and not pieces[-1].endswith("\n"):
            pieces.append("\n")
        pieces.append(text)
    return Body(storable("".join(pieces)), cut)


def text_of(message: EmailMessage) -> str:
    """The plain-text body (or the HTML body as text), storable; empty when the mail has no text."""
    return read_body(message).text
