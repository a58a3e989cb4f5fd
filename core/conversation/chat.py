"""The conversation on a request: messages from the organisation's users and staff, and internal notes.

Customers never see internal notes: every customer-facing read goes through :func:`visible_messages`.
A customer's message on a request that waits for them sets it back to ``in_progress`` and mails the
staff member who holds it; "ask the customer" posts the question and sets ``waiting_for_customer`` in one
transaction. Closed requests take no new messages.

A message may carry files (checked and stored beforehand, see :func:`core.requests.attachments.stage_all`); their
rows are written in the message's transaction, and the stored files are removed again if it fails, so a
message never loses its files and no file is left without its message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pluggy
from sqlmodel import Session, col, select

from core.mail import service as mail
from core.models import Attachment, ChatMessage, Organisation, Request, User
from core.platform.errors import Conflict, ValidationFailed
from core.platform.i18n import gettext as _
from core.requests import attachments, search
from core.requests.attachments import AttachmentView, StagedFile
from core.requests.context import HookContext
from core.requests.lifecycle import Action, apply
from core.requests.queries import MAX_ID, get_request
from core.requests.request_types import RequestTypeRegistry
from core.requests.statuses import Status
from core.views import ChatMessageView, RequestView, UserView

if TYPE_CHECKING:
    from core.platform.clock import Clock
    from core.portal import Portal

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
        return add_message(
            session,
            request,
            author=author,
            body=text,
            internal=internal,
            ask_customer=ask_customer,
            via=via,
            inbound_mail_id=inbound_mail_id,
            files=files,
            clock=portal.clock,
            hooks=portal.hooks,
            registry=portal.registry,
        )


def add_message(
    session: Session,
    request: Request,
    *,
    author: User | None,
    body: str,
    clock: Clock,
    hooks: pluggy.HookRelay,
    registry: RequestTypeRegistry | None = None,
    internal: bool = False,
    ask_customer: bool = False,
    via: str = "portal",
    inbound_mail_id: int | None = None,
    files: Sequence[StagedFile] = (),
) -> ChatMessage:
    """The one writer of chat messages, internal notes and mail-born messages, in the caller's transaction.

    It stores the message and its files, applies the status change the message implies and tells the
    observers (``bbportal_message_posted``). "Ask the customer" (staff) sets ``waiting_for_customer``; a
    message of the customer's (``author`` a user of the organisation) on a request that waits for them is
    their answer: the request goes back to ``in_progress`` and the staff member who holds it is mailed.
    Messages without an author are the system's (a fulfilment's outcome) or a mail whose sender is no user.
    The caller checked that ``author`` may post here and that the request is open.
    """
    now = clock.now()
    message = ChatMessage(
        request_id=request.id or 0,
        author_id=author.id if author else None,
        body=body,
        internal=internal and not ask_customer,
        via=via,
        created_at=now,
        inbound_mail_id=inbound_mail_id,
    )
    session.add(message)
    session.flush()
    search.index_message(session, message.request_id, body, internal=message.internal)
    if files:
        attachments.record(
            session,
            files,
            request_id=request.id or 0,
            message_id=message.id,
            internal=message.internal,
            uploaded_by_id=author.id if author else None,
            clock=clock,
        )
    answers = (
        author is not None
        and not author.is_staff
        and not message.internal
        and request.status == Status.WAITING_FOR_CUSTOMER
    )
    action = (
        Action.ASK_CUSTOMER if ask_customer and author is not None else Action.CUSTOMER_ANSWERED if answers else None
    )
    if action is not None:
        request_type = registry.get(request.type_key) if registry is not None else None
        apply(session, request, action, author, request_type=request_type, clock=clock, hooks=hooks, registry=registry)
        if action == Action.CUSTOMER_ANSWERED and request.assignee_id is not None:
            _mail_holder(session, request, message, now)
    context = HookContext(
        session=session, actor=UserView.of(author) if author is not None else None, clock=clock, registry=registry
    )
    hooks.bbportal_message_posted(request=RequestView.of(request), message=ChatMessageView.of(message), context=context)
    return message


def _mail_holder(session: Session, request: Request, message: ChatMessage, now: datetime) -> None:
    holder = session.get(User, request.assignee_id)
    if holder is not None:
        dedupe_key = f"answer:{message.id}"
        mail.queue(session, "customer_answered", holder, request=request, dedupe_key=dedupe_key, now=now)
