"""The conversation on a request: messages from the organisation's users and staff, and internal notes.

Customers never see internal notes: every customer-facing read goes through :func:`visible_messages`.
A customer's message on a request that waits for them sets it back to ``in_progress`` and mails the
staff member who holds it; "ask the customer" posts the question and sets ``waiting_for_customer`` in one
transaction. Closed requests take no new messages.

A message may carry files (checked and stored beforehand, see :func:`core.attachments.stage_all`); their
rows are written in the message's transaction, and the stored files are removed again if it fails, so a
message never loses its files and no file is left without its message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from core import attachments
from core.attachments import AttachmentView, StagedFile
from core.context import HookContext
from core.errors import Conflict, ValidationFailed
from core.i18n import gettext as _
from core.lifecycle import Action, apply
from core.models import Attachment, ChatMessage, Organisation, Request, User
from core.portal import Portal
from core.queries import MAX_ID, get_request
from core.statuses import Status

MAX_LENGTH = 10_000


@dataclass
class MessageView:
    id: int
    body: str
    internal: bool
    via: str
    created_at: datetime
    author_name: str
    author_side: str
    """The author's organisation, "BBGRUPPEN" for staff, or empty for automatic messages."""
    attachments: list[AttachmentView] = field(default_factory=list)


def visible_messages(session: Session, viewer: User, request_id: int, since: int = 0) -> list[MessageView]:
    """Oldest first; internal notes only for staff."""
    since = min(max(since, 0), MAX_ID)
    query = (
        select(ChatMessage, User, Organisation.name)
        .outerjoin(User, col(ChatMessage.author_id) == col(User.id))
        .outerjoin(Organisation, col(User.organisation_id) == col(Organisation.id))
        .where(ChatMessage.request_id == request_id, col(ChatMessage.id) > since)
    )
    if not viewer.is_staff:
        query = query.where(col(ChatMessage.internal).is_(False))
    views = []
    for message, author, organisation_name in session.exec(query.order_by(col(ChatMessage.id))):
        if author is None:
            name, side = _("BBGRUPPEN Portal"), ""
        else:
            name, side = author.name, ("BBGRUPPEN" if author.is_staff else organisation_name or "")
        views.append(
            MessageView(message.id or 0, message.body, message.internal, message.via, message.created_at, name, side)
        )
    if views:
        files = select(Attachment).where(
            Attachment.request_id == request_id, col(Attachment.message_id).in_([v.id for v in views])
        )
        if not viewer.is_staff:
            files = files.where(col(Attachment.internal).is_(False))
        by_message = {v.id: v for v in views}
        for row in session.exec(files.order_by(col(Attachment.id))):
            by_message[row.message_id or 0].attachments.append(attachments.view(row))
    return views


def _clean(body: str, *, has_files: bool = False) -> str:
    """The message text; it may be empty only when the message carries files."""
    text = body.replace("\r\n", "\n").strip()
    if not text and not has_files:
        raise ValidationFailed({"body": [_("Write a message.")]})
    if len(text) > MAX_LENGTH:
        raise ValidationFailed({"body": [_("Use at most %(max_length)s characters.", max_length=MAX_LENGTH)]})
    return text


def post(
    portal: Portal,
    author: User,
    request_id: int,
    body: str,
    *,
    internal: bool = False,
    ask_customer: bool = False,
    via: str = "portal",
    inbound_mail_id: int | None = None,
    files: Sequence[StagedFile] = (),
) -> ChatMessage:
    """Store a message with its files (and make the status change it implies) in one transaction.

    ``files`` are already in the storage; whatever goes wrong here removes them again.
    """
    try:
        text = _clean(body, has_files=bool(files))
        return _post(portal, author, request_id, text, internal, ask_customer, via, inbound_mail_id, files)
    except BaseException:
        attachments.discard(portal.storage, files)
        raise


def _post(
    portal: Portal,
    author: User,
    request_id: int,
    text: str,
    internal: bool,
    ask_customer: bool,
    via: str,
    inbound_mail_id: int | None,
    files: Sequence[StagedFile],
) -> ChatMessage:
    with portal.database.writing() as session:
        request = get_request(session, author, request_id)
        if Status(request.status).is_closed:
            raise Conflict("This request is closed; file a new request instead.")
        if (internal or ask_customer) and not author.is_staff:
            raise Conflict("You are not allowed to do that.")
        request_type = portal.registry.get(request.type_key)
        now = portal.clock.now()
        message = ChatMessage(
            request_id=request.id or 0,
            author_id=author.id,
            body=text,
            internal=internal and not ask_customer,
            via=via,
            created_at=now,
            inbound_mail_id=inbound_mail_id,
        )
        session.add(message)
        session.flush()
        attachments.record(
            session,
            files,
            request_id=request.id or 0,
            message_id=message.id,
            internal=message.internal,
            uploaded_by_id=author.id,
            clock=portal.clock,
        )
        context = HookContext(session=session, actor=author, clock=portal.clock)
        if ask_customer:
            apply(
                session,
                request,
                Action.ASK_CUSTOMER,
                author,
                request_type=request_type,
                clock=portal.clock,
                hooks=portal.hooks,
            )
        elif not author.is_staff and request.status == Status.WAITING_FOR_CUSTOMER:
            apply(
                session,
                request,
                Action.CUSTOMER_ANSWERED,
                author,
                request_type=request_type,
                clock=portal.clock,
                hooks=portal.hooks,
            )
            if request.assignee_id is not None:
                session.add(_holder_mail(request, message, now))
        portal.hooks.bbportal_message_posted(request=request, message=message, context=context)
        return message


def _holder_mail(request: Request, message: ChatMessage, now: datetime) -> object:
    from core.models import OutboxMessage

    return OutboxMessage(
        topic="send_mail",
        created_at=now,
        available_at=now,
        dedupe_key=f"answer:{message.id}",
        payload={
            "kind": "customer_answered",
            "request_id": request.id,
            "user_id": request.assignee_id,
            "message_id": message.id,
        },
    )
