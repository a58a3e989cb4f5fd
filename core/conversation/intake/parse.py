"""Reading a mail: every common charset and transfer encoding, mislabelled text, flowed text, HTML-only mail.

Nothing here trusts the mail: a declared charset may be wrong or unknown, a part may have none, HTML may
be anything. Text always comes out as a ``str`` that a database can store (no NUL, no lone surrogates).
"""

from __future__ import annotations

import codecs
import re
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from html.parser import HTMLParser

# Labels that in practice mean Windows-1252 (as browsers read them): Outlook labels 1252 text as Latin-1.
_WESTERN = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii", "windows-1252", "cp1252"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_mail(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def storable(text: str) -> str:
    """Text a database takes: control characters (NUL above all) and lone surrogates removed."""
    text = text.encode("utf-8", errors="replace").decode("utf-8") if _has_surrogates(text) else text
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


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
    return storable(" ".join(str(value or "").split()))


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


def decoded_text(part: Message) -> str:
    """The text of one text part, decoded and, when flowed, unwrapped."""
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        text = decode_bytes(payload, part.get_content_charset())
    else:
        text = str(part.get_payload() or "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if str(part.get_param("format", "", header="content-type")).lower() == "flowed":
        delsp = str(part.get_param("delsp", "", header="content-type")).lower() == "yes"
        text = _unflow(text, delsp)
    return text


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


def text_of(message: EmailMessage) -> str:
    """The plain-text body (or the HTML body as text), storable; empty when the mail has no text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        if message.is_multipart() or message.get_content_maintype() != "text":
            return ""
        part = message
    text = decoded_text(part)
    return storable(html_to_text(text) if part.get_content_subtype() == "html" else text)
