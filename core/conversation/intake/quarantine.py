"""What staff do with a quarantined mail: attach it to a request, or file it as a new request.

Both go through the pipeline like any other change: the request is filed by the lifecycle, and the mail's
text and files become a chat message through the one writer of messages (``chat.add_message``), so that
observers see ``bbportal_message_posted`` and a request that waits for the customer goes back to
``in_progress`` when the mail is the customer's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from core.accounts import auth
from core.conversation.chat import MAX_LENGTH, add_message
from core.conversation.intake.files import mail_files
from core.conversation.intake.parse import parse_mail, text_of
from core.conversation.intake.quotes import strip_quotes
from core.models import InboundMail, Organisation, Request, User
from core.platform.errors import Conflict, NotFound
from core.requests import attachments
from core.requests.attachments import StagedFile
from core.requests.filing import file_request
from core.requests.queries import valid_id
from core.requests.request_types import RequestType
from core.requests.statuses import Status

if TYPE_CHECKING:
    from core.portal import Portal


def mail_text(row: InboundMail) -> str:
    """The mail's own text, quotes stripped; for an unreadable mail, what can be shown of it."""
    try:
        return strip_quotes(text_of(parse_mail(row.raw))) or ""
    except Exception:  # unreadable mail: show what can be shown
        return row.raw[:2000].decode("utf-8", errors="replace")


def sender_user(session: Session, row: InboundMail) -> User | None:
    """The active customer user who sent the mail, when the sender is one."""
    if not row.sender:
        return None
    found = session.exec(select(User).where(User.email == auth.normalise_email(row.sender))).first()
    return found if found is not None and found.active and not found.is_staff else None


def first_message(row: InboundMail, author: User | None) -> str:
    """The mail's text as a chat message; a sender who is not the author is named in it."""
    body = mail_text(row).strip()
    if not body:
        return ""
    return body if author is not None and author.email == row.sender else f"{row.sender or '?'}:\n{body}"


def quarantined(session: Session, mail_id: int) -> InboundMail:
    row = session.get(InboundMail, mail_id) if valid_id(mail_id) else None
    if row is None or row.status != "quarantined":
        raise NotFound("There is no such mail.")
    return row


def _files(portal: Portal, mail_id: int) -> tuple[list[StagedFile], list[str]]:
    """The mail's attachments, checked and stored like a reply's (nothing for a mail that cannot be read)."""
    with portal.database.reading() as session:
        row = quarantined(session, mail_id)
    try:
        message = parse_mail(row.raw)
    except Exception:  # unreadable: the text shown is all there is
        return [], []
    return mail_files(portal, message)


def attach(portal: Portal, staff: User, mail_id: int, number: str) -> Request:
    """Attach the mail to request ``number`` (``BB-12`` or ``12``) as a message; ``Conflict`` says why not.

    The message is the customer's when the sender is a user of the request's organisation (their answer,
    if the request waits for them); otherwise it has no author and names the sender in its text.
    """
    number = number.strip().upper().removeprefix("BB-")
    files, notes = _files(portal, mail_id)
    try:
        with portal.database.writing() as session:
            row = quarantined(session, mail_id)
            target = (
                session.get(Request, int(number))
                if number.isascii() and number.isdigit() and valid_id(int(number))
                else None
            )
            if target is None:
                raise Conflict("There is no such request.")
            if Status(target.status).is_closed:
                raise Conflict("This request is closed; file a new request instead.")
            sender = sender_user(session, row)
            author = sender if sender is not None and sender.organisation_id == target.organisation_id else None
            text = mail_text(row) if author is not None else f"{row.sender}:\n{mail_text(row)}"
            message = add_message(
                session,
                target,
                author=author,
                body="\n\n".join(part for part in (text, "\n".join(notes)) if part)[:MAX_LENGTH],
                via="email",
                inbound_mail_id=row.id,
                files=files,
                clock=portal.clock,
                hooks=portal.hooks,
                registry=portal.registry,
            )
            row.status, row.request_id, row.chat_message_id = "attached", target.id, message.id
            row.reason = f"attached by hand by {staff.name}"[:300]
            session.add(row)
            return target
    except BaseException:
        attachments.discard(portal.storage, files)
        raise


def file_as_request(
    portal: Portal,
    staff: User,
    mail_id: int,
    *,
    request_type: RequestType,
    customer: User,
    organisation: Organisation,
    payload: dict[str, Any],
    carry_out_on: Any,
) -> Request:
    """File the mail as a new request of ``customer``'s, its text and files the request's first message.

    ``ValidationFailed`` carries the form's errors; ``Conflict`` or ``Forbidden`` say why it cannot be filed.
    """
    files, notes = _files(portal, mail_id)
    try:
        with portal.database.writing() as session:
            mail = session.get(InboundMail, mail_id)
            if mail is None or mail.status != "quarantined":
                raise Conflict("The mail has been handled meanwhile.")
            filed = file_request(
                session,
                request_type=request_type,
                user=customer,
                organisation=organisation,
                payload=payload,
                carry_out_on=carry_out_on,
                clock=portal.clock,
                hooks=portal.hooks,
                registry=portal.registry,
                access_control_for=portal.access_control,
                filed_by=staff,
                reason=f"Filed by {staff.name} from an e-mail from {mail.sender or '?'}",
            )
            text = "\n\n".join(part for part in (first_message(mail, customer), "\n".join(notes)) if part)
            message = None
            if text or files:
                message = add_message(
                    session,
                    filed,
                    author=customer if customer.email == mail.sender else None,
                    body=text[:MAX_LENGTH],
                    via="email",
                    inbound_mail_id=mail.id,
                    files=files,
                    clock=portal.clock,
                    hooks=portal.hooks,
                    registry=portal.registry,
                )
            mail.status, mail.request_id = "attached", filed.id
            mail.chat_message_id = message.id if message is not None else None
            mail.reason = f"filed as a new request by {staff.name}"[:300]
            session.add(mail)
            return filed
    except BaseException:
        attachments.discard(portal.storage, files)
        raise
