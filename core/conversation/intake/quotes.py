"""Cutting quoted conversation and signatures from a reply, whatever client wrote it.

First by what we know: the portal keeps the text of every mail it sent about a request, so the quoted
history is found by that text (line by line, whatever the quoting style, ``>`` or none, and however the
client re-wrapped it) and cut from the attribution or forward header above it, in any language; and a
sender's signature is what repeats at the end of their earlier mails (as Zammad finds signatures). The
known-phrase rules below remain for what the portal did not send (a mail quoted from before it kept its
texts, a thread forwarded from elsewhere) and for the first mail of a sender whose phone signs it.

The files in ``tests/mail_corpus/`` are the specification: real clients' replies with the exact text that
must remain. The rules lean towards keeping text: a line is taken for the start of the quoted conversation
only when it is our text, or looks like a client wrote it (an attribution with a date and time or an
address followed by quoted lines, an Outlook header block, a separator line).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_VERB = r"(wrote|skrev|schrieb|kirjoitti|skrev følgende)"
ATTRIBUTION = re.compile(rf"^.{{0,250}}\b{_VERB}\b.{{0,250}}:\s*$", re.I)
"""Gmail, Apple, Thunderbird, Android: "On … wrote:", "Den … skrev …:", "26 nov. 2026 kl. 10:02 skrev …:".

It counts only with a date and time or an address in it and quoted lines (or nothing) after it, so a
customer's own "I wrote to you on Monday:" stays."""
_WRAPPED_START = re.compile(r"^\s*(On|Den|På|Am|\d{1,4}[-./ ])", re.I)
"""How an attribution the client wrapped over several lines begins."""
_WHEN = re.compile(r"(\d{4}|\d{1,2}/\d{1,2}/\d{2}).{0,80}\d{1,2}[:.]\d{2}|\d{1,2}[:.]\d{2}.{0,80}\d{4}")
_ADDRESS = re.compile(r"\S@\S")

SEPARATORS = [
    re.compile(r"^\s*-{2,}\s*(Original Message|Ursprungligt meddelande|Originalmeddelande)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*-{5,}\s*(Reply message|Svarsmeddelande|Ursprungligt meddelande)\s*-{5,}\s*$", re.I),
]
OUTLOOK_FROM = re.compile(r"^\s*\*?\s*(From|Från|Fr[åa]n|Von)\s*:\s*\*?\s*\S", re.I)
OUTLOOK_FIELDS = re.compile(
    r"^\s*\*?\s*(Sent|Skickat|Date|Datum|To|Till|Subject|Ämne|Cc|Kopia|Gesendet|An|Betreff)\s*:", re.I
)
UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
SIGNATURE = re.compile(r"^-- ?$")
MOBILE_SIGNATURES = re.compile(
    r"^\s*(Sent from my \S.{0,40}|Skickat från min \S.{0,40}|Skickades från min \S.{0,40}"
    r"|Sent from (Outlook|Mail|Yahoo Mail)\b.{0,40}|Skickat från (Outlook|E-post)\b.{0,40}"
    r"|Skickades från (Outlook|E-post)\b.{0,40}|Get Outlook for \S.{0,20}|Hämta Outlook för \S.{0,20}"
    r"|Von meinem \S.{0,40} gesendet)\s*$",
    re.I,
)


def _next_content(lines: list[str], start: int) -> str | None:
    for line in lines[start:]:
        if line.strip():
            return line
    return None


def _attribution_at(lines: list[str], index: int) -> int:
    """How many lines an attribution starting here takes (the client may wrap it over up to three), or 0."""
    for span in (1, 2, 3):
        if index + span > len(lines):
            return 0
        part = lines[index : index + span]
        if span > 1 and not (all(line.strip() for line in part) and _WRAPPED_START.match(part[0])):
            return 0
        joined = " ".join(line.strip() for line in part)
        if not ATTRIBUTION.match(joined) or len(joined) > 400:
            continue
        if not (_ADDRESS.search(joined) or _WHEN.search(joined)):
            continue
        following = _next_content(lines, index + span)
        if following is None or following.lstrip().startswith(">"):
            return span
    return 0


def _outlook_block_at(lines: list[str], index: int) -> bool:
    line = lines[index]
    if UNDERSCORES.match(line):
        return any(OUTLOOK_FROM.match(f) for f in lines[index + 1 : index + 3])
    if OUTLOOK_FROM.match(line):
        return any(OUTLOOK_FIELDS.match(f) for f in lines[index + 1 : index + 5])
    return any(pattern.match(line) for pattern in SEPARATORS)


MIN_QUOTE_WORDS = 8
"""Words of our text in a row that make a quote (fewer may be the customer's own words that echo ours)."""
_QUOTE_MARKS = re.compile(r"^[\s>|]+")
_FIELD = re.compile(r"^\*?[\w .-]{1,30}\*?\s*:\s*\S")
"""A header line of a quoted or forwarded mail in any language ("Från: …", "Lähettäjä: …", "Emne: …")."""
_SEPARATOR = re.compile(r"^[-_=*~ ]{4,}$|^[-_=*]{2,}\s*[^-_=*]{1,60}?\s*[-_=*]{2,}$")
"""A line that separates a quote: ``_____``, ``-----Original Message-----``, ``--- Videresendt melding ---``."""


def _plain(line: str) -> str:
    """A line as compared with our text: quote marks and repeated blanks gone."""
    return " ".join(_QUOTE_MARKS.sub("", line).split())


class OurText:
    """The mails we sent about a request, for finding where a reply quotes them and who wrote its header."""

    def __init__(self, texts: Sequence[str], names: Sequence[str] = ()) -> None:
        self.texts = [" " + " ".join(filter(None, map(_plain, text.splitlines()))) + " " for text in texts]
        self.names = [name.lower() for name in names if name.strip()]

    def has(self, line: str) -> bool:
        plain = _plain(line)
        return bool(plain) and any(f" {plain} " in text for text in self.texts)

    def names_us(self, line: str) -> bool:
        lowered = line.lower()
        return any(name in lowered for name in self.names) or bool(_WHEN.search(line))


def _quote_start(lines: list[str], ours: OurText) -> int | None:
    """The first line of the first run of our text long enough to be a quote (blank lines may sit in it)."""
    index = 0
    while index < len(lines):
        if not (ours.has(lines[index]) and len(_plain(lines[index]).split()) >= 2):
            index += 1
            continue
        words, end = 0, index
        while end < len(lines) and (not _plain(lines[end]) or ours.has(lines[end])):
            words += len(_plain(lines[end]).split())
            end += 1
        if words >= MIN_QUOTE_WORDS or end == len(lines):
            return index
        index = end
    return None


def _header_start(lines: list[str], start: int, ours: OurText) -> int:
    """Where the attribution or forward header above a quote begins (``start`` when there is none).

    Header lines are fields ("Från: …"), lines that end in a colon, separators, and lines naming us or a
    date and time; at least one must name us or a date and time, so a customer's "Tel: 070-…" stays. A
    blank line is crossed upwards only into a line that introduces what follows ("Begin forwarded message:").
    """
    top, named, index = start, False, start - 1
    while index >= 0 and not _plain(lines[index]):
        index -= 1  # the blank line between a header block and the quoted mail
    while index >= 0:
        line = _plain(lines[index])
        if not line:
            above = index - 1
            while above >= 0 and not _plain(lines[above]):
                above -= 1
            if above < 0 or not (_plain(lines[above]).endswith(":") or _SEPARATOR.match(_plain(lines[above]))):
                break
            index = above
            continue
        naming = ours.names_us(line)
        if not (naming or _FIELD.match(line) or (line.endswith(":") and len(line) <= 250) or _SEPARATOR.match(line)):
            break
        named = named or naming
        top = index
        index -= 1
    return top if named else start


def cut_our_text(text: str, ours: OurText) -> str:
    """The reply without the mail of ours it quotes and the header the client wrote above it.

    A quote without quote marks (Outlook, forwards) is top-posted: everything from its header on goes. A
    quote with ``>`` loses only its header here; its lines are dropped by :func:`strip_quotes`, which keeps
    the answers written between them.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = _quote_start(lines, ours)
    if start is None:
        return text
    top = _header_start(lines, start, ours)
    if not lines[start].lstrip().startswith(">"):
        return "\n".join(lines[:top])
    return "\n".join(lines[:top] + lines[start:])


SIGNATURE_MIN_CHARACTERS = 20
"""A learnt signature is two lines or more and this long at least: "Mvh\nMaja" may well be written anew."""


def cut_signature(text: str, earlier: Sequence[str]) -> str:
    """The text without the signature its sender always ends with: the trailing lines it shares with one of
    their earlier mails' own text, where both have text of their own above them (a mail sent twice is no
    signature). Something of the text's own always remains."""
    lines = text.split("\n")
    content = [_plain(lines[i]) for i in range(len(lines)) if lines[i].strip()]
    best = 0
    for other in earlier:
        theirs = [_plain(line) for line in other.split("\n") if line.strip()]
        same = 0
        while same < min(len(theirs), len(content)) - 1 and theirs[-1 - same] == content[-1 - same]:
            same += 1
        if same >= 2 and sum(len(line) for line in content[-same:]) >= SIGNATURE_MIN_CHARACTERS:
            best = max(best, same)
    if not best:
        return text
    kept, seen = [], 0
    for line in lines:
        seen += bool(line.strip())
        if seen > len(content) - best:
            break
        kept.append(line)
    return "\n".join(kept).strip()


def strip_quotes(text: str, ours: OurText | None = None) -> str:
    """The sender's own new text: quoted lines, the quoted conversation and signatures removed."""
    if ours is not None:
        text = cut_our_text(text, ours)
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept: list[str] = []
    skip_to = 0
    for index, line in enumerate(lines):
        if index < skip_to:
            continue
        if SIGNATURE.match(line) or MOBILE_SIGNATURES.match(line):
            break
        if _outlook_block_at(lines, index):
            break
        span = _attribution_at(lines, index)
        if span:
            if any(k.strip() for k in kept):
                break
            skip_to = index + span  # bottom or inline posting: the answers follow the quoted lines
            continue
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    result = "\n".join(kept).strip()
    return re.sub(r"\n{3,}", "\n\n", result)
