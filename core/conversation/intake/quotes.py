"""Cutting quoted conversation and signatures from a reply (Gmail, Outlook, Apple, Thunderbird, phones).

The files in ``tests/mail_corpus/`` are the specification: each real client's reply, in Swedish and
English, with the exact text that must remain. The rules lean towards keeping text: a line is taken for
the start of the quoted conversation only when it looks like a client wrote it (an attribution with a
date and time or an address followed by quoted lines, an Outlook header block, a separator line).
"""

from __future__ import annotations

import re

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


def strip_quotes(text: str) -> str:
    """The sender's own new text: quoted lines, the quoted conversation and signatures removed."""
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
