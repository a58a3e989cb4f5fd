"""Carrying a portal-users request out: add (create or reopen an account), remove (deactivate), list (CSV).

Each step is safe to run again. An account change and its :class:`AccountChange` row commit together, so
a retry after a crash finds the row and reports the work done instead of failing on "already exists" or
sending a second invitation; a removal finds the account already deactivated; a list replaces the file.
Chat lines are written in the requester's language, internal notes in the portal's default language.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from core.api import (
    LOCAL_ZONE,
    FulfilmentContext,
    FulfilmentResult,
    Role,
    UserKind,
    UserView,
    add_customer_user,
    csv_chunks,
    deactivate_user,
    find_user,
    find_user_by_email,
    invite_user,
    local_today,
    lock_organisation,
    reopen_customer_user,
    use_language,
)
from core.api import gettext as _
from plugins.portal_users import rules
from plugins.portal_users.records import AccountChange, Change
from plugins.portal_users.schema import AddUser, ListUsers, PortalUsersForm, RemoveUser

if TYPE_CHECKING:
    from core.api import RequestView

LIST_ORIGIN = "user-list"


def carry_out(request: RequestView, context: FulfilmentContext) -> FulfilmentResult:
    task = PortalUsersForm.model_validate(request.data).task
    speech = _Speech(customer=context.customer_language(request), staff=context.staff_language)
    if isinstance(task, AddUser):
        return _add(request, task, context, speech)
    if isinstance(task, RemoveUser):
        return _remove(request, task, context, speech)
    assert isinstance(task, ListUsers)
    return _list(request, task, context, speech)


class _Speech:
    """Translates a message into the customer's or the staff's language."""

    def __init__(self, *, customer: str, staff: str) -> None:
        self.customer_language = customer
        self.staff_language = staff

    def customer(self, message: str, **params: object) -> str:
        with use_language(self.customer_language):
            return _(message, **params)

    def staff(self, message: str, **params: object) -> str:
        with use_language(self.staff_language):
            return _(message, **params)


def _change_of(session: Session, request: RequestView) -> AccountChange | None:
    return session.exec(select(AccountChange).where(AccountChange.request_id == request.id)).first()


# --- add ---------------------------------------------------------------------------------------------------


def _add(request: RequestView, task: AddUser, context: FulfilmentContext, speech: _Speech) -> FulfilmentResult:
    with context.database.writing() as session:
        # Account changes of one organisation one at a time: two removals cannot both pass the last-user rule.
        lock_organisation(session, request.organisation_id)
        done = _change_of(session, request)
        if done is not None:  # a retry: this request already made the account and queued its invitation
            user = find_user(session, done.user_id)
            assert user is not None
            return _added(user, Change(done.change), context, speech, again=True)
        existing = find_user_by_email(session, task.email)
        if existing is not None and not rules.may_return(existing, request.organisation_id):
            return FulfilmentResult(
                ok=False,
                customer_message=speech.customer(
                    "%(email)s was not added: there is already a portal user with this e-mail address. "
                    "Nothing was changed.",
                    email=task.email,
                ),
                internal_note=speech.staff(
                    "Not added: the address %(email)s already belongs to user %(id)s (created %(created)s), "
                    "which this request did not make. Nothing was changed; reject the request with a reason.",
                    email=task.email,
                    id=existing.id,
                    created=_local(existing),
                ),
            )
        if existing is None:
            user = add_customer_user(
                session,
                request.organisation_id,
                name=task.name,
                email=task.email,
                role=task.role,
                language=speech.customer_language,
                clock=context.clock,
            )
            change = Change.CREATED
        else:
            # A returning user: same account (their old requests are theirs again), the role and name asked
            # for now, and no old password: they choose a new one through the invitation.
            user = reopen_customer_user(session, existing.id, name=task.name, role=task.role, clock=context.clock)
            change = Change.REACTIVATED
        invite_user(session, context.portal, user.id)
        session.add(AccountChange(request_id=request.id or 0, user_id=user.id, change=change, at=context.clock.now()))
        session.flush()
        return _added(user, change, context, speech, again=False)


def _added(
    user: UserView, change: Change, context: FulfilmentContext, speech: _Speech, *, again: bool
) -> FulfilmentResult:
    who = {"name": user.name, "email": user.email}
    if user.role == Role.ADMINISTRATOR:
        added = speech.customer("%(name)s (%(email)s) has been added as an administrator.", **who)
    else:
        added = speech.customer("%(name)s (%(email)s) has been added as a member.", **who)
    invitation = speech.customer(
        "An invitation with a link to choose a password has been sent to %(email)s; "
        "the link works for %(hours)s hours.",
        email=user.email,
        hours=f"{context.settings.invitation_link_hours:g}",
    )
    if change == Change.CREATED:
        note = speech.staff(
            "Account %(email)s created (user %(id)s); invitation mail queued.", email=user.email, id=user.id
        )
    else:
        note = speech.staff(
            "Removed account %(email)s reopened (user %(id)s); old password cleared; invitation mail queued.",
            email=user.email,
            id=user.id,
        )
    if again:
        note = " ".join((note, speech.staff("Found done by an earlier run of this request; nothing was repeated.")))
    return FulfilmentResult(
        ok=True,
        customer_message=f"{added} {invitation}",
        internal_note=note,
        details={"user_id": user.id, "change": change.value},
    )


# --- remove ------------------------------------------------------------------------------------------------


def _remove(request: RequestView, task: RemoveUser, context: FulfilmentContext, speech: _Speech) -> FulfilmentResult:
    with context.database.writing() as session:
        lock_organisation(session, request.organisation_id)
        target = find_user(session, task.user_id)
        if target is None or target.organisation_id != request.organisation_id or target.kind != UserKind.CUSTOMER:
            return FulfilmentResult(
                ok=False,
                internal_note=speech.staff(
                    "User %(id)s is not a user of this organisation; nothing was changed.", id=task.user_id
                ),
            )
        who = {"name": target.name, "email": target.email}
        removed = speech.customer(
            "%(name)s (%(email)s) has been removed and can no longer log in. "
            "Their requests and messages stay in the portal.",
            **who,
        )
        if not target.active:
            done = _change_of(session, request)
            if done is not None:  # a retry: this request deactivated the account
                note = speech.staff("Found done by an earlier run of this request; nothing was repeated.")
                return FulfilmentResult(ok=True, customer_message=removed, internal_note=note, details=_ids(target))
            return FulfilmentResult(
                ok=True,
                customer_message=speech.customer(
                    "%(name)s (%(email)s) had already been removed and cannot log in.", **who
                ),
                internal_note=speech.staff("The account was already deactivated; nothing was changed."),
                details={"user_id": target.id, "change": "already_removed"},
            )
        problem = rules.removal_problem(session, request.organisation_id, target)
        if problem is not None:  # the organisation changed since filing (another removal came first)
            return FulfilmentResult(
                ok=False,
                customer_message=speech.customer(
                    "%(name)s (%(email)s) was not removed: %(reason)s", reason=speech.customer(problem), **who
                ),
                internal_note=speech.staff(
                    "Not removed: %(reason)s Nothing was changed; reject the request with a reason, or press "
                    "Utför again once the organisation has another user or administrator.",
                    reason=speech.staff(problem),
                ),
            )
        deactivate_user(session, target.id, clock=context.clock)
        session.add(
            AccountChange(request_id=request.id or 0, user_id=target.id, change=Change.REMOVED, at=context.clock.now())
        )
        return FulfilmentResult(
            ok=True,
            customer_message=removed,
            internal_note=speech.staff(
                "Account %(email)s deactivated (user %(id)s); its sessions and API tokens ended.",
                email=target.email,
                id=target.id,
            ),
            details=_ids(target),
        )


def _ids(user: UserView) -> dict[str, object]:
    return {"user_id": user.id, "change": Change.REMOVED.value}


# --- list --------------------------------------------------------------------------------------------------


def _list(request: RequestView, task: ListUsers, context: FulfilmentContext, speech: _Speech) -> FulfilmentResult:
    with context.database.reading() as session:
        users = rules.organisation_users(session, request.organisation_id, active_only=not task.include_removed)
    filename = f"{speech.customer('portal-users')}-{local_today(context.clock).isoformat()}.csv"
    attachment = context.attach(
        request,
        filename=filename,
        content_type="text/csv",
        chunks=user_list_csv(users, speech.customer_language),
        origin=LIST_ORIGIN,
    )
    return FulfilmentResult(
        ok=True,
        customer_message=speech.customer(
            "The list of your organisation's portal users (%(count)s) is attached to this request as %(filename)s.",
            count=len(users),
            filename=attachment.filename,
        ),
        details={"attachment_id": attachment.id, "users": len(users)},
    )


CSV_COLUMNS = ("Name", "E-mail address", "Role", "Active", "Created")


def user_list_csv(users: list[UserView], language: str) -> Iterator[bytes]:
    """The list as Excel in Sweden opens it, one row per user (the core's ``csv_chunks``: a name typed by a
    customer that looks like a formula is written as text, never run on someone else's computer)."""
    with use_language(language):
        header = [_(column) for column in CSV_COLUMNS]
        rows = [
            [
                user.name,
                user.email,
                _("Administrator") if user.role == Role.ADMINISTRATOR else _("Member"),
                _("Yes") if user.active else _("No"),
                _local(user),
            ]
            for user in users
        ]
    return csv_chunks(header, rows)


def _local(user: UserView) -> str:
    return user.created_at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")
