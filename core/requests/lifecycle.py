"""The request lifecycle: every transition, who may make it, and the one function that applies it.

The table is written out in full, including what is deliberately impossible, so that the rules of
DESIGN.md can be read in one place. This module is the only writer of a request's status and history:
``file`` (a new request joins the queue or the schedule), ``release`` (due scheduled requests join the
queue, many at once) and ``apply`` (every other action) write the request row, its history row and outbox
rows and call the observers, all in the caller's transaction. A transition applies only to the version of
the row it read, so two people acting at the same moment cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import pluggy
from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from core.models import Organisation, Request, RequestHistory, User
from core.platform.clock import Clock, local_today
from core.platform.db import insert_rows
from core.platform.errors import Conflict
from core.platform.i18n import N_
from core.platform.outbox import enqueue
from core.requests import search
from core.requests.context import HookContext
from core.requests.followers import follow_new_request
from core.requests.request_types import FulfilmentMode, RequestType, RequestTypeRegistry
from core.requests.statuses import OPEN, Status
from core.views import RequestView, UserView


class ActorKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    SYSTEM = "system"


class Action(StrEnum):
    FILE = "file"
    RELEASE = "release"
    TAKE = "take"
    START_FULFILMENT = "start_fulfilment"
    CARRY_OUT = "carry_out"
    FULFILMENT_SUCCEEDED = "fulfilment_succeeded"
    FULFILMENT_FAILED = "fulfilment_failed"
    FULFILMENT_DELAYED = "fulfilment_delayed"
    ASK_CUSTOMER = "ask_customer"
    CUSTOMER_ANSWERED = "customer_answered"
    HAND_BACK = "hand_back"
    ASSIGN = "assign"
    COMPLETE = "complete"
    WITHDRAW = "withdraw"
    RESCHEDULE = "reschedule"
    BRING_FORWARD = "bring_forward"
    REJECT = "reject"


Guard = Callable[["Request", "User | None", "RequestType | None"], "str | None"]
"""Returns None when the action may go ahead, else the message id that explains why not."""

ALL_MODES = frozenset(FulfilmentMode)
MAX_REASON = 2000


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[Status]
    target: Status | None
    """None: the status stays (the action still leaves a history row)."""
    actors: frozenset[ActorKind]
    modes: frozenset[FulfilmentMode] = ALL_MODES
    needs_reason: bool = False
    while_running: bool = False
    """False: refused while a fulfilment is running; True: only while one is running."""
    guards: tuple[Guard, ...] = field(default=())


def _holder_only(request: Request, actor: User | None, _type: RequestType | None) -> str | None:
    if request.assignee_id is not None and actor is not None and request.assignee_id != actor.id:
        return N_("Only the staff member who holds this request can do that.")
    if request.assignee_id is None:
        return N_("Take the request first.")
    return None


def _unassigned_or_flagged(request: Request, actor: User | None, request_type: RequestType | None) -> str | None:
    """Utför needs the holder (on approval), or a failed automatic request that anyone may retry."""
    if request.needs_attention and request.assignee_id is None:
        return None
    return _holder_only(request, actor, request_type)


def _not_held(request: Request, _actor: User | None, _type: RequestType | None) -> str | None:
    if request.assignee_id is not None:
        return N_("This request is already held by someone else.")
    return None


def _unassigned_flagged_or_pending(
    request: Request, actor: User | None, request_type: RequestType | None
) -> str | None:
    """Staff take pending requests, or take over a failed automatic one (in progress, nobody holds it)."""
    if request.status == Status.IN_PROGRESS and not request.needs_attention:
        return N_("This request is already being handled.")
    return _not_held(request, actor, request_type)


def _pending_not_automatic_or_flagged(
    request: Request, _actor: User | None, request_type: RequestType | None
) -> str | None:
    if (
        request.status == Status.PENDING
        and request_type is not None
        and request_type.mode_for(request.data) == FulfilmentMode.AUTOMATIC
    ):
        return N_("This request is carried out automatically; staff cannot take it while it waits for that.")
    return None


TRANSITIONS: dict[Action, Transition] = {
    # Filing (``file``) has no "from"; it is listed so the table is complete.
    Action.FILE: Transition(Action.FILE, frozenset(), None, frozenset({ActorKind.CUSTOMER, ActorKind.STAFF})),
    Action.RELEASE: Transition(
        Action.RELEASE, frozenset({Status.SCHEDULED}), Status.PENDING, frozenset({ActorKind.SYSTEM})
    ),
    Action.TAKE: Transition(
        Action.TAKE,
        frozenset({Status.PENDING, Status.IN_PROGRESS}),
        Status.IN_PROGRESS,
        frozenset({ActorKind.STAFF}),
        guards=(_unassigned_flagged_or_pending, _pending_not_automatic_or_flagged),
    ),
    Action.START_FULFILMENT: Transition(
        Action.START_FULFILMENT,
        frozenset({Status.PENDING}),
        Status.IN_PROGRESS,
        frozenset({ActorKind.SYSTEM}),
        modes=frozenset({FulfilmentMode.AUTOMATIC}),
        guards=(_not_held,),
    ),
    Action.CARRY_OUT: Transition(
        Action.CARRY_OUT,
        frozenset({Status.IN_PROGRESS}),
        None,
        frozenset({ActorKind.STAFF}),
        modes=frozenset({FulfilmentMode.ON_APPROVAL, FulfilmentMode.AUTOMATIC}),
        guards=(_unassigned_or_flagged,),
    ),
    Action.FULFILMENT_SUCCEEDED: Transition(
        Action.FULFILMENT_SUCCEEDED,
        frozenset({Status.IN_PROGRESS}),
        Status.COMPLETED,
        frozenset({ActorKind.SYSTEM}),
        while_running=True,
    ),
    Action.FULFILMENT_FAILED: Transition(
        Action.FULFILMENT_FAILED,
        frozenset({Status.IN_PROGRESS}),
        None,
        frozenset({ActorKind.SYSTEM}),
        while_running=True,
    ),
    Action.FULFILMENT_DELAYED: Transition(
        Action.FULFILMENT_DELAYED,
        frozenset({Status.IN_PROGRESS}),
        None,
        frozenset({ActorKind.SYSTEM}),
        while_running=True,
    ),
    Action.ASK_CUSTOMER: Transition(
        Action.ASK_CUSTOMER,
        frozenset({Status.IN_PROGRESS}),
        Status.WAITING_FOR_CUSTOMER,
        frozenset({ActorKind.STAFF}),
        guards=(_holder_only,),
    ),
    Action.CUSTOMER_ANSWERED: Transition(
        Action.CUSTOMER_ANSWERED,
        frozenset({Status.WAITING_FOR_CUSTOMER}),
        Status.IN_PROGRESS,
        frozenset({ActorKind.CUSTOMER}),
    ),
    Action.HAND_BACK: Transition(
        Action.HAND_BACK,
        frozenset({Status.IN_PROGRESS}),
        Status.PENDING,
        frozenset({ActorKind.STAFF}),
        modes=frozenset({FulfilmentMode.ON_APPROVAL, FulfilmentMode.MANUAL}),
        guards=(_holder_only,),
    ),
    Action.ASSIGN: Transition(
        Action.ASSIGN,
        frozenset({Status.IN_PROGRESS, Status.WAITING_FOR_CUSTOMER}),
        None,
        frozenset({ActorKind.STAFF}),
        guards=(_holder_only,),
    ),
    Action.COMPLETE: Transition(
        Action.COMPLETE,
        frozenset({Status.IN_PROGRESS}),
        Status.COMPLETED,
        frozenset({ActorKind.STAFF}),
        guards=(_holder_only,),
    ),
    Action.WITHDRAW: Transition(
        Action.WITHDRAW,
        frozenset({Status.SCHEDULED, Status.PENDING}),
        Status.CANCELLED,
        frozenset({ActorKind.CUSTOMER}),
    ),
    Action.RESCHEDULE: Transition(
        Action.RESCHEDULE, frozenset({Status.SCHEDULED}), None, frozenset({ActorKind.CUSTOMER})
    ),
    Action.BRING_FORWARD: Transition(
        Action.BRING_FORWARD, frozenset({Status.SCHEDULED}), Status.PENDING, frozenset({ActorKind.CUSTOMER})
    ),
    Action.REJECT: Transition(Action.REJECT, OPEN, Status.CANCELLED, frozenset({ActorKind.STAFF}), needs_reason=True),
}
FULFIL_KEY_PREFIX = "fulfil:"
"""Every ``fulfil`` outbox row's dedupe key starts ``fulfil:<request id>:``, so the retries of a fulfilment can
see whether another run of it is already queued (see :mod:`core.workflow.fulfilment`)."""

STEP_IN = frozenset({Action.TAKE, Action.CARRY_OUT, Action.REJECT})
"""What staff may do to a fulfilment that is still being retried but flagged (``fulfilment_delayed``): take the
work over by hand (the retries stop), retry now, or reject the request."""

# Deliberately absent: anything out of COMPLETED or CANCELLED (closed is closed), a customer taking,
# completing or rejecting, staff withdrawing on a customer's behalf (they reject, with a reason).


def actor_kind(actor: User | None) -> ActorKind:
    if actor is None:
        return ActorKind.SYSTEM
    return ActorKind.STAFF if actor.is_staff else ActorKind.CUSTOMER


def refusal(
    request: Request, action: Action, actor: User | None, request_type: RequestType | None, reason: str = ""
) -> str | None:
    """Why ``actor`` may not do ``action`` to ``request`` now (a message id), or None if they may."""
    transition = TRANSITIONS[action]
    status = Status(request.status)
    if action == Action.FILE:
        return N_("A request is filed only once.")
    if status.is_closed:
        return N_("This request is closed; file a new request instead.")
    if status not in transition.sources:
        return N_("That cannot be done to a request that is %(status)s.")
    if actor_kind(actor) not in transition.actors:
        return N_("You are not allowed to do that.")
    if actor is not None and not actor.is_staff and actor.organisation_id != request.organisation_id:
        return N_("You are not allowed to do that.")
    if request_type is not None and request_type.mode_for(request.data) not in transition.modes:
        return N_("This request type does not allow that.")
    if transition.while_running and not request.fulfilment_running:
        return N_("No fulfilment is running for this request.")
    if (
        not transition.while_running
        and request.fulfilment_running
        and not (request.needs_attention and action in STEP_IN)
    ):
        return N_("The request is being carried out right now; wait until that has finished.")
    if transition.needs_reason and not reason.strip():
        return N_("Give a reason.")
    if len(reason) > MAX_REASON:
        return N_("Keep the reason under 2,000 characters.")
    for guard in transition.guards:
        message = guard(request, actor, request_type)
        if message:
            return message
    return None


def allowed_actions(request: Request, actor: User | None, request_type: RequestType | None) -> list[Action]:
    """The actions the viewer could take now: pages show exactly these buttons."""
    return [
        action
        for action in TRANSITIONS
        if action != Action.FILE and refusal(request, action, actor, request_type, reason="x") is None
    ]


@dataclass
class Effects:
    """What a transition changes besides the status."""

    changes_assignee: bool = False
    assignee_id: int | None = None
    fulfilment_running: bool | None = None
    needs_attention: bool | None = None
    queued_at: Any = None


def _effects(action: Action, request: Request, actor: User | None, now: Any, assignee: User | None) -> Effects:
    if action == Action.TAKE:  # a delayed automatic step stops: the one who took it carries it out
        return Effects(
            changes_assignee=True,
            assignee_id=actor.id if actor else None,
            needs_attention=False,
            fulfilment_running=False,
        )
    if action in (Action.RELEASE, Action.BRING_FORWARD):
        return Effects(queued_at=now)
    if action in (Action.START_FULFILMENT, Action.CARRY_OUT):
        return Effects(fulfilment_running=True, needs_attention=False)
    if action == Action.FULFILMENT_SUCCEEDED:
        return Effects(fulfilment_running=False, needs_attention=False)
    if action == Action.FULFILMENT_FAILED:
        return Effects(fulfilment_running=False, needs_attention=True)
    if action == Action.FULFILMENT_DELAYED:
        return Effects(needs_attention=True)  # still being retried, and staff are told
    if action in (Action.COMPLETE, Action.REJECT):  # closed: nothing is left for staff to attend to or retry
        return Effects(needs_attention=False, fulfilment_running=False)
    if action == Action.HAND_BACK:
        return Effects(changes_assignee=True, assignee_id=None)
    if action == Action.ASSIGN:
        return Effects(changes_assignee=True, assignee_id=assignee.id if assignee else None)
    return Effects()


@dataclass(frozen=True)
class StatusChange:
    """One request's status change, as the batched observers (``bbportal_statuses_changed``) see it."""

    request_id: int
    type_key: str
    organisation_id: int
    from_status: Status
    to_status: Status
    action: str


@dataclass
class FilingEvent:
    """What observers of a filing see besides the request: the validated form and what the customer confirmed."""

    request_type: RequestType
    data: BaseModel
    expected_estimate: str | None = None
    """The fingerprint of the cost estimate the customer confirmed, if they saw one."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Where an observer keeps what it worked out before the filing for its ``request_filed`` hook."""


_REQUEST_COLUMNS = tuple(c.name for c in Request.__table__.columns if c.name != "id")  # type: ignore[attr-defined]


def file(
    session: Session,
    request: Request,
    *,
    filing: FilingEvent,
    requester: User,
    clock: Clock,
    hooks: pluggy.HookRelay,
    registry: RequestTypeRegistry | None = None,
    filed_by: User | None = None,
    reason: str = "",
) -> Request:
    """The FILE transition: write a drafted request in the caller's (write) transaction.

    Observers of ``bbportal_before_filing`` may refuse (billing does when the confirmed estimate no longer
    holds) before anything is written; then the request, its first history row, the requester as follower
    and its outbox rows are written, and ``bbportal_request_filed`` observes it. The request is stamped now,
    so that ids and queue times keep the order in which requests were written. ``filed_by`` is a staff
    member filing for the requester (a mail from the quarantine): the history names them, with ``reason``.
    """
    actor = filed_by or requester
    known = registry if registry is not None else {filing.request_type.key: filing.request_type}
    context = HookContext(session=session, actor=_view_of(actor), clock=clock, registry=known)
    now = clock.now()
    request.created_at = request.updated_at = now
    if request.queued_at is not None:
        request.queued_at = now
    hooks.bbportal_before_filing(request=RequestView.of(request), filing=filing, context=context)
    status = Status(request.status)
    request.id = insert_rows(
        session, Request, [{name: getattr(request, name) for name in _REQUEST_COLUMNS}], returning_id=True
    )
    make_transient_to_detached(request)
    session.add(request)  # in the session, unchanged: a hook's change to it is saved as an UPDATE
    _record(session, [(request.id, None, status)], Action.FILE, actor, now, reason=reason[:2000])
    organisation = session.get(Organisation, request.organisation_id)  # loaded by the filing: no query
    search.index_filed(
        session,
        request.id,
        request.summary,
        request.data,
        organisation.name if organisation else "",
        requester.name,
        filing.request_type.schema,
    )
    follow_new_request(session, request, requester)
    enqueue(session, "request_filed", {"request_id": request.id}, now=now)
    if status == Status.PENDING and filing.request_type.mode_for(request.data) == FulfilmentMode.AUTOMATIC:
        enqueue(session, "start_fulfilment", {"request_id": request.id}, now=now)
    hooks.bbportal_request_filed(request=RequestView.of(request), filing=filing, context=context)
    session.flush()
    return request


def release(
    session: Session,
    due: Any,
    *,
    joined_queue_at: Callable[[date], datetime],
    clock: Clock,
    hooks: pluggy.HookRelay,
    registry: RequestTypeRegistry,
) -> list[int]:
    """The RELEASE transition applied at once to every scheduled request whose id ``due`` selects.

    One conditional ``UPDATE … RETURNING``: a row is released by exactly one transaction however many
    releasers run at once, because the update only matches rows that are still ``scheduled``. Each joins the
    queue at ``joined_queue_at(carry_out_on)`` (not the moment a worker noticed), so a release after downtime
    keeps the order of the dates. History and outbox rows are written one statement each, and observers
    see the batch as one ``bbportal_statuses_changed`` call; ``bbportal_status_changed`` is called per
    request only when a plugin implements it (it needs every request loaded). Returns the released ids,
    by date then id.
    """
    now = clock.now()
    rows = session.execute(
        update(Request)
        .where(col(Request.id).in_(due), col(Request.status) == Status.SCHEDULED.value)
        .values(status=Status.PENDING.value, version=Request.version + 1, updated_at=now)
        .returning(col(Request.id), col(Request.carry_out_on), col(Request.type_key), col(Request.organisation_id))
    ).all()
    ordered = sorted(rows, key=lambda r: (r[1], r[0]))
    by_date: dict[date, list[int]] = {}
    for request_id, carry_out_on, _type_key, _organisation in ordered:
        by_date.setdefault(carry_out_on, []).append(request_id)
    for carry_out_on, ids in by_date.items():  # everyone due at one moment joins the queue at that moment
        session.execute(update(Request).where(col(Request.id).in_(ids)).values(queued_at=joined_queue_at(carry_out_on)))
    if not ordered:
        return []
    ids = [row[0] for row in ordered]
    _record(session, [(i, Status.SCHEDULED, Status.PENDING) for i in ids], Action.RELEASE, None, now)
    released = {"from_status": Status.SCHEDULED.value, "to_status": Status.PENDING.value}
    enqueue(
        session,
        "status_changed",
        [{"request_id": i, "action": Action.RELEASE.value, **released} for i in ids],
        now=now,
    )
    # Types that may be automatic get a start_fulfilment row; start_automatic checks the request's own mode.
    automatic = {t.key for t in registry if FulfilmentMode.AUTOMATIC in t.modes()}
    starts = [{"request_id": row[0]} for row in ordered if row[2] in automatic]
    if starts:
        enqueue(session, "start_fulfilment", starts, now=now)
    session.flush()
    context = HookContext(session=session, actor=None, clock=clock, registry=registry)
    changes = [
        StatusChange(row[0], row[2], row[3], Status.SCHEDULED, Status.PENDING, Action.RELEASE.value) for row in ordered
    ]
    hooks.bbportal_statuses_changed(changes=changes, context=context)
    if hooks.bbportal_status_changed.get_hookimpls():
        for request in session.exec(select(Request).where(col(Request.id).in_(ids)).order_by(col(Request.id))):
            hooks.bbportal_status_changed(
                request=RequestView.of(request),
                from_status=Status.SCHEDULED,
                to_status=Status.PENDING,
                action=Action.RELEASE.value,
                context=context,
            )
    return ids


def _record(
    session: Session,
    moves: Sequence[tuple[int | None, Status | None, Status]],
    action: Action,
    actor: User | None,
    now: datetime,
    *,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """The history rows of one action: (request id, from, to) each, one statement."""
    insert_rows(
        session,
        RequestHistory,
        [
            {
                "request_id": request_id,
                "at": now,
                "actor_id": actor.id if actor else None,
                "action": action.value,
                "from_status": from_status.value if from_status is not None else None,
                "to_status": to_status.value,
                "reason": reason,
                "details": details or {},
            }
            for request_id, from_status, to_status in moves
        ],
    )


def apply(
    session: Session,
    request: Request,
    action: Action,
    actor: User | None,
    *,
    request_type: RequestType | None,
    clock: Clock,
    hooks: pluggy.HookRelay,
    registry: RequestTypeRegistry | None = None,
    reason: str = "",
    assignee: User | None = None,
    details: dict[str, Any] | None = None,
    carry_out_on: date | None = None,
) -> Request:
    """Apply one lifecycle action in the caller's transaction, or raise ``Conflict`` saying why not.

    Observers see a status change twice over: ``bbportal_status_changed`` with the request, and
    ``bbportal_statuses_changed`` with a batch of one (a plugin implements one of the two).
    """
    message = refusal(request, action, actor, request_type, reason)
    if message:
        raise Conflict(message, status=Status(request.status).label)
    if action == Action.ASSIGN and (assignee is None or not assignee.is_staff or not assignee.active):
        raise Conflict("Choose an active colleague to pass the request to.")
    if action == Action.RESCHEDULE and (carry_out_on is None or carry_out_on <= local_today(clock)):
        raise Conflict("Choose a later date.")
    now = clock.now()
    transition = TRANSITIONS[action]
    from_status = Status(request.status)
    to_status = transition.target or from_status
    effects = _effects(action, request, actor, now, assignee)

    values: dict[str, Any] = {"status": to_status, "version": request.version + 1, "updated_at": now}
    if effects.changes_assignee:
        values["assignee_id"] = effects.assignee_id
    if effects.fulfilment_running is not None:
        values["fulfilment_running"] = effects.fulfilment_running
    if effects.needs_attention is not None:
        values["needs_attention"] = effects.needs_attention
    if effects.queued_at is not None:
        values["queued_at"] = effects.queued_at
    if action == Action.RESCHEDULE:
        values["carry_out_on"] = carry_out_on
    if action == Action.BRING_FORWARD:
        values["carry_out_on"] = local_today(clock)
    result = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.version == request.version)  # type: ignore[arg-type]
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict("Someone else changed this request at the same moment; reload and try again.")
    for key, value in values.items():
        setattr(request, key, value)

    _record(
        session,
        [(request.id, from_status, to_status)],
        action,
        actor,
        now,
        reason=reason.strip(),
        details={
            **(details or {}),
            **({"assignee_id": assignee.id} if assignee else {}),
            **({"carry_out_on": values["carry_out_on"].isoformat()} if "carry_out_on" in values else {}),
        },
    )
    if values.get("fulfilment_running"):
        enqueue(
            session,
            "fulfil",
            {"request_id": request.id, "attempt": request.version},
            f"{FULFIL_KEY_PREFIX}{request.id}:v{request.version}",
            now=now,
        )
    if (
        action == Action.BRING_FORWARD
        and request_type is not None
        and request_type.mode_for(request.data) == FulfilmentMode.AUTOMATIC
    ):
        enqueue(session, "start_fulfilment", {"request_id": request.id}, now=now)
    if to_status != from_status:
        enqueue(
            session,
            "status_changed",
            {
                "request_id": request.id,
                "from_status": from_status.value,
                "to_status": to_status.value,
                "action": action.value,
                "actor_id": actor.id if actor is not None else None,
            },
            now=now,
        )
        known = registry if registry is not None else ({request_type.key: request_type} if request_type else None)
        context = HookContext(session=session, actor=_view_of(actor), clock=clock, registry=known)
        change = StatusChange(
            request.id or 0, request.type_key, request.organisation_id, from_status, to_status, action.value
        )
        hooks.bbportal_status_changed(
            request=RequestView.of(request),
            from_status=from_status,
            to_status=to_status,
            action=action.value,
            context=context,
        )
        hooks.bbportal_statuses_changed(changes=[change], context=context)
    session.flush()
    return request


def _view_of(actor: User | None) -> UserView | None:
    return UserView.of(actor) if actor is not None else None
