"""Reminders: a request that has waited for the customer for N working days gets one reminder mail.

Working days are Monday to Friday in Europe/Stockholm (public holidays are not known to the portal).
Each question gets at most one reminder: the outbox row's dedupe key names the history row of the question,
and a reminder already sent since the question (kept in ``sent_mail``) counts too, so that a question still
open after housekeeping has deleted the done outbox row (``BBPORTAL_OUTBOX_KEEP_DAYS``) is not reminded again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import col, select

from core.conversation.notifications import wants
from core.mail import service as mail
from core.models import Request, RequestHistory, SentMail
from core.platform.clock import LOCAL_ZONE
from core.requests.followers import followers
from core.requests.lifecycle import Action
from core.requests.statuses import Status

if TYPE_CHECKING:
    from core.portal import Portal


def add_working_days(moment: datetime, days: int) -> datetime:
    local = moment.astimezone(LOCAL_ZONE)
    added = 0
    while added < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            added += 1
    return local


def send_due_reminders(portal: Portal) -> int:
    """Queue a reminder for every request whose question has waited long enough; returns how many."""
    days = portal.settings.reminder_working_days
    if days <= 0:
        return 0
    now = portal.clock.now()
    queued = 0
    with portal.database.reading() as session:
        # Only requests waiting now (the status index finds them), and of those only their latest question, asked
        # at least ``days`` calendar days ago (fewer than the working days) and not yet reminded: a question
        # reminded once stays out of every later round, which at a million requests would otherwise re-read
        # thousands of requests in a write transaction every few minutes.
        waiting = select(Request.id).where(Request.status == Status.WAITING_FOR_CUSTOMER.value)
        asked = (
            select(RequestHistory.request_id, func.max(RequestHistory.id).label("history_id"))
            .where(col(RequestHistory.request_id).in_(waiting), RequestHistory.action == Action.ASK_CUSTOMER.value)
            .group_by(col(RequestHistory.request_id))
            .subquery()
        )
        already = (
            select(SentMail.id)
            .where(
                SentMail.request_id == asked.c.request_id,
                SentMail.kind == "reminder",
                col(SentMail.sent_at) >= col(RequestHistory.at),
            )
            .exists()
        )
        candidates = [
            (request_id, question_id)
            for request_id, question_id, at in session.exec(
                select(asked.c.request_id, RequestHistory.id, RequestHistory.at)
                .join(RequestHistory, col(RequestHistory.id) == asked.c.history_id)
                .where(col(RequestHistory.at) <= now - timedelta(days=days), ~already)
            ).all()
            if add_working_days(at, days) <= now
        ]
    if not candidates:
        return 0
    with portal.database.writing() as session:
        rows = [(session.get(Request, r), session.get(RequestHistory, h)) for r, h in candidates]
        for request, question in rows:
            if request is None or question is None or request.status != Status.WAITING_FOR_CUSTOMER.value:
                continue
            reminded = set(
                session.exec(
                    select(SentMail.user_id).where(
                        SentMail.request_id == request.id, SentMail.kind == "reminder", SentMail.sent_at >= question.at
                    )
                )
            )
            for user in followers(session, request):
                if user.id not in reminded and wants(user, Status.WAITING_FOR_CUSTOMER.value):
                    key = f"reminder:{question.id}:{user.id}"
                    queued += mail.queue(session, "reminder", user, request=request, dedupe_key=key, now=now)
    return queued
