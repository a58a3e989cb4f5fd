"""E-mail notifications: who is told what about a request, and the values of the mails about requests.

A lifecycle event (``request_filed``, ``status_changed``) fans out into one mail per recipient, queued
through the mail service (:mod:`core.mail`) with a dedupe key, so re-running the fan-out after a crash adds
nothing. The mail itself is composed by the service when it is sent, from :func:`request_values`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from core.mail import MailJob, MailKind
from core.mail import service as mail
from core.mail.service import CORE_TEMPLATES
from core.models import Attachment, ChatMessage, Organisation, Request, User
from core.platform import i18n
from core.platform.outbox import OutboxMessage
from core.requests.display import request_rows
from core.requests.followers import followers
from core.requests.statuses import Status

if TYPE_CHECKING:
    from core.portal import Portal


def wants(user: User, to_status: str | None) -> bool:
    """A user's preference: every change, only when we need an answer from them, or nothing."""
    if user.notify == "none" or not user.active:
        return False
    if user.notify == "answer_needed":
        return to_status == Status.WAITING_FOR_CUSTOMER.value
    return True


SILENT_ACTIONS = frozenset({"start_fulfilment"})
"""Status changes nobody is mailed about: the worker starting an automatic fulfilment is a step, not news;
its outcome (completed, or a question) is mailed. Nor is anyone mailed about a change they made themselves
(their own answer, their own withdrawal): the status_changed row names its actor."""


def fan_out(portal: Portal, source: OutboxMessage) -> Callable[[Session], None] | None:
    """Turn one lifecycle event into one ``send_mail`` row per recipient.

    Who is told is read first, in a read transaction; what is returned is the write that queues the rows,
    which ``outbox.process`` does in the transaction that marks ``source`` done: one short writer's turn per
    event, and after a crash either both happened or neither. The rows keep their dedupe keys, and keys
    already present are skipped, so a fan-out that did run is never repeated.
    """
    payload = source.payload
    with portal.database.reading() as session:
        request = session.get(Request, int(payload["request_id"]))
        if request is None:
            return None
        if source.topic == "request_filed":
            requester = session.get(User, request.requester_id)
            # The receipt counts as a status change: "answer needed only" and "none" get no receipt.
            recipients = [requester] if requester is not None and wants(requester, request.status) else []
            kind = "request_filed"
        elif payload.get("action") in SILENT_ACTIONS:
            return None
        else:
            recipients = [
                u
                for u in followers(session, request)
                if wants(u, payload.get("to_status")) and u.id != payload.get("actor_id")
            ]
            kind = "status_changed"
    if not recipients:
        return None
    now = portal.clock.now()
    extra: dict[str, Any] = {k: payload[k] for k in ("from_status", "to_status", "action") if k in payload}

    def queue(session: Session) -> None:
        for user in recipients:
            mail.queue(session, kind, user, request=request, dedupe_key=f"mail:{source.id}:{user.id}", now=now, **extra)

    return queue


def request_values(job: MailJob) -> dict[str, Any] | None:
    """The values of every mail about a request to a user: the request, its rows and the newest message."""
    user, session, portal = job.recipient.user, job.session, job.portal
    request = session.get(Request, job.request.id) if job.request is not None else None  # the identity map's row
    if request is None or user is None:
        return None
    request_type = portal.registry.get(request.type_key)
    newest = session.exec(
        select(ChatMessage)
        .where(ChatMessage.request_id == request.id, col(ChatMessage.internal).is_(False))
        .order_by(col(ChatMessage.id).desc())
    ).first()
    newest_files = (
        list(
            session.exec(
                select(Attachment.filename)
                .where(Attachment.message_id == newest.id, col(Attachment.internal).is_(False))
                .order_by(col(Attachment.id))
            )
        )
        if newest is not None
        else []
    )
    return {
        "request": request,
        "number": request.number,
        "type_name": i18n.gettext(request_type.name) if request_type else request.type_key,
        "status_label": Status(request.status).label,
        "to_status_label": Status(job.params.get("to_status", request.status)).label,
        "summary": request.title,  # composed in the recipient's language
        "rows": request_rows(session, request, request_type, portal.clock, portal.access_control),
        "newest_message": newest,
        "newest_files": newest_files,
        "request_url": job.url(f"/{'staff/' if user.is_staff else ''}requests/{request.id}"),
        "follow_up_url": follow_up_url(job, request) if not user.is_staff else "",
    }


def alert_values(job: MailJob) -> dict[str, Any] | None:
    """An alert to a staff address (not a user): an automatic step that drags on. None once it is done."""
    session, portal = job.session, job.portal
    request = session.get(Request, job.request.id) if job.request is not None else None
    if request is None or not request.fulfilment_running:
        return None  # done (or taken over) before the alert went out: nothing to alert about
    request_type = portal.registry.get(request.type_key)
    organisation = session.get(Organisation, request.organisation_id)
    return {
        "number": request.number,
        "type_name": i18n.gettext(request_type.name) if request_type else request.type_key,
        "organisation": organisation.name if organisation is not None else "",
        "reason": job.params.get("reason", ""),
        "summary": request.summary,
        "minutes": job.params.get("minutes", ""),
        "request_url": job.url(f"/staff/requests/{request.id}"),
    }


def follow_up_url(job: MailJob, request: Request) -> str:
    """A closed request's way on: the new-request page with its number carried; empty while it is open."""
    return job.url(f"/requests/new?about={request.number}") if Status(request.status).is_closed else ""


def closed_answer_values(job: MailJob) -> dict[str, Any] | None:
    """The automatic reply to an e-mail answer to a closed request: the request, and how to follow it up."""
    values = request_values(job)
    if values is None or not values["follow_up_url"]:
        return None  # reopened meanwhile? Requests never are; a staff member's mail is never answered
    return {**values, "newest_message": None, "newest_files": []}


MAIL_KINDS = [
    *(
        MailKind(kind, CORE_TEMPLATES / kind, request_values)
        for kind in ("request_filed", "status_changed", "reminder", "customer_answered")
    ),
    MailKind("fulfilment_delayed", CORE_TEMPLATES / "fulfilment_delayed", alert_values, reply_by_mail=False),
    MailKind("closed_request_answered", CORE_TEMPLATES / "closed_request_answered", closed_answer_values, False),
]
"""The mails about a request: the receipt, a change of status, a reminder of a question, (to the holder) the
customer's answer, (to the alert address) an automatic step that has not succeeded for a while, and the
automatic reply to an answer by e-mail to a closed request (it carries no reply address: answering it again
would reach the closed request again)."""
