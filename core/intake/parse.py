"""Reading a mail: every common charset and transfer encoding, HTML-only mail turned into text."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser


def parse_mail(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


class _Text(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "table"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self.skip += 1
        if tag == "blockquote" or (tag == "div" and any(v and "gmail_quote" in v for _k, v in attrs)):
            self.quote += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head") and self.skip:
            self.skip -= 1
        if tag in ("blockquote",) and self.quote:
            self.quote -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            text = data if not self.quote else "\n".join("> " + line for line in data.splitlines())
            self.parts.append(text)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    lines = [
        " ".join(line.split()) if not line.startswith(">") else line for line in "".join(parser.parts).splitlines()
    ]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def text_of(message: EmailMessage) -> str:
    """The plain-text body (or the HTML body as text); unknown charsets are decoded leniently."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
    text = str(content)
    return html_to_text(text) if part.get_content_subtype() == "html" else text
