"""Cutting quoted conversation and signatures from a reply (Gmail, Outlook incl. Swedish, Apple, Thunderbird)."""

from __future__ import annotations

import re

# A line that starts the quoted part: everything from it on is the earlier conversation.
QUOTE_HEADERS = [
    re.compile(r"^\s*On .{5,200}wrote:\s*$", re.I),  # Gmail, Apple Mail, Thunderbird (en)
    re.compile(r"^\s*(Den |På ).{5,200}skrev.{0,60}:\s*$", re.I),  # Swedish clients
    re.compile(r"^.{5,200} skrev:\s*$", re.I),  # Thunderbird (sv): "2026-11-27 Anna skrev:"
    re.compile(r"^\s*-{2,}\s*(Original Message|Ursprungligt meddelande|Originalmeddelande)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*(From|Från|Fr[åa]n)\s*:\s*.+$", re.I),  # Outlook header block
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook separator line
    re.compile(r"^\s*Am .{5,200} schrieb .{0,100}:\s*$", re.I),
]
OUTLOOK_FIELDS = re.compile(r"^\s*(Sent|Skickat|Date|Datum|To|Till|Subject|Ämne|Cc|Kopia)\s*:", re.I)
SIGNATURE = re.compile(r"^-- ?$")
MOBILE_SIGNATURES = re.compile(r"^\s*(Sent from my|Skickat från min|Skickat från Outlook|Hämta Outlook)", re.I)


def strip_quotes(text: str) -> str:
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if SIGNATURE.match(line) or MOBILE_SIGNATURES.match(line):
            break
        if any(pattern.match(line) for pattern in QUOTE_HEADERS):
            is_outlook = re.match(r"^\s*(From|Från)\s*:", line, re.I)
            following = lines[index + 1 : index + 4]
            if not is_outlook or any(OUTLOOK_FIELDS.match(f) for f in following):
                break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()
