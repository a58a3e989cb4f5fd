"""Files that come with an inbound mail: checked like uploads; one that is refused becomes a note in the message.

A refused file never costs the customer their message: the text is posted with a line such as
"(bilagan x.exe togs inte emot: filtypen är inte tillåten)", and the original mail stays stored whole.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from email.message import EmailMessage
from typing import TYPE_CHECKING

from core.conversation.intake.parse import payload_of
from core.platform import i18n
from core.requests.attachment_types import NOT_ALLOWED
from core.requests.attachments import MAX_FILES, AttachmentRefused, StagedFile, Upload, discard, stage

if TYPE_CHECKING:
    from core.portal import Portal

MAX_PARTS = 100
"""Parts looked at in one mail; a mail with more is not a customer's reply."""
TOO_MANY = i18n.N_("at most %(count)s files go with one message")
CUT_FILE = i18n.N_("(the attachment %(name)s was cut short on its way: only its beginning arrived)")
CUT_TEXT = i18n.N_("(the mail was cut short on its way: only the beginning of its text arrived)")


def _attachment_parts(message: EmailMessage) -> Iterator[EmailMessage]:
    """Every part that is a file, in mail order: attachments, and images embedded in an HTML text (a pasted
    screenshot sits in a multipart/related inside the alternatives); never the text the message was read from.
    """
    bodies = {id(part) for part in (message.get_body(("plain",)), message.get_body(("html",))) if part is not None}
    for part in _leaves(message):
        if id(part) in bodies or part.get_content_maintype() == "multipart":
            continue  # a multipart that could not be split (no boundary) is a broken mail, not a file
        unnamed_text = part.get_content_maintype() == "text" and not part.get_filename()
        if unnamed_text and part.get_content_disposition() != "attachment":
            continue  # another rendering of the text (text/enriched, a list footer), not a file
        yield part


def has_attachments(message: EmailMessage) -> bool:
    """Whether the mail carries any file at all (a reply may be a photo without a word)."""
    return next(_attachment_parts(message), None) is not None


def _leaves(part: EmailMessage, depth: int = 0) -> Iterator[EmailMessage]:
    if part.get_content_maintype() == "message" and depth:
        yield part  # a forwarded mail is one (refused) attachment, not a source of more
        return
    if part.is_multipart():
        for sub in part.iter_parts() if depth < 10 else ():
            assert isinstance(sub, EmailMessage)
            yield from _leaves(sub, depth + 1)
        return
    yield part


def mail_files(portal: Portal, message: EmailMessage) -> tuple[list[StagedFile], list[str]]:
    """The accepted files (already in the storage) and one note per refused file, in the portal's language."""
    staged: list[StagedFile] = []
    notes: list[str] = []
    max_bytes = portal.settings.attachment_max_bytes
    try:
        with i18n.use_language(portal.settings.default_language):
            for number, part in enumerate(_attachment_parts(message), start=1):
                if number > MAX_PARTS:
                    break
                name = part.get_filename() or i18n.gettext("attachment-%(number)s", number=number)
                try:
                    if part.get_content_maintype() == "message":  # a forwarded mail: not a file type we take
                        raise AttachmentRefused(name, NOT_ALLOWED)
                    if len(staged) >= MAX_FILES:
                        raise AttachmentRefused(name, TOO_MANY, count=MAX_FILES)
                    content, cut = payload_of(part)
                    staged.append(stage(portal.storage, Upload(name, io.BytesIO(content)), max_bytes=max_bytes))
                    if cut:  # kept: a photo cut short still shows most of the picture
                        notes.append(i18n.gettext(CUT_FILE, name=name))
                except AttachmentRefused as exc:
                    notes.append(
                        i18n.gettext(
                            "(the attachment %(name)s was not accepted: %(reason)s)",
                            name=exc.filename,
                            reason=exc.reason_text(),
                        )
                    )
    except BaseException:
        discard(portal.storage, staged)
        raise
    return staged, notes
