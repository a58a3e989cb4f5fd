"""The request lifecycle: every transition, who may make it, and the one function that applies it.

The table is written out in full, including what is deliberately impossible, so that the rules of
DESIGN.md can be read in one place. ``apply`` writes the request row, its history row, outbox rows and
calls the observers in the caller's transaction; a transition applies only to the version of the row it
read, so two people acting at the same moment cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import pluggy
from sqlalchemy import update
from sqlmodel import Session

from core.billing.recording import charge_completed
from core.clock import Clock, local_today
from core.context import HookContext
from core.errors import Conflict
from core.i18n import N_
from core.models import ChatMessage, Request, RequestHistory, User
from core.request_types import FulfilmentMode, RequestType
from core.statuses import OPEN, Status


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
    # Filing is written by core.filing (there is no "from"); it is listed so the table is complete.
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
    if not transition.while_running and request.fulfilment_running:
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
    if action == Action.TAKE:
        return Effects(changes_assignee=True, assignee_id=actor.id if actor else None, needs_attention=False)
    if action in (Action.RELEASE, Action.BRING_FORWARD):
        return Effects(queued_at=now)
    if action in (Action.START_FULFILMENT, Action.CARRY_OUT):
        return Effects(fulfilment_running=True, needs_attention=False)
    if action == Action.FULFILMENT_SUCCEEDED:
        return Effects(fulfilment_running=False, needs_attention=False)
    if action == Action.FULFILMENT_FAILED:
        return Effects(fulfilment_running=False, needs_attention=True)
    if action in (Action.COMPLETE, Action.REJECT):
        return Effects(needs_attention=False)  # closed: nothing is left for staff to attend to
    if action == Action.HAND_BACK:
        return Effects(changes_assignee=True, assignee_id=None)
    if action == Action.ASSIGN:
        return Effects(changes_assignee=True, assignee_id=assignee.id if assignee else None)
    return Effects()


def apply(
    session: Session,
    request: Request,
    action: Action,
    actor: User | None,
    *,
    request_type: RequestType | None,
    clock: Clock,
    hooks: pluggy.HookRelay | None = None,
    reason: str = "",
    assignee: User | None = None,
    internal_note: str = "",
    customer_message: str = "",
    details: dict[str, Any] | None = None,
    carry_out_on: date | None = None,
) -> Request:
    """Apply one lifecycle action in the caller's transaction, or raise ``Conflict`` saying why not."""
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

    history = RequestHistory(
        request_id=request.id,  # type: ignore[arg-type]
        at=now,
        actor_id=actor.id if actor else None,
        action=action.value,
        from_status=from_status,
        to_status=to_status,
        reason=reason.strip(),
        details={
            **(details or {}),
            **({"assignee_id": assignee.id} if assignee else {}),
            **({"carry_out_on": values["carry_out_on"].isoformat()} if "carry_out_on" in values else {}),
        },
    )
    session.add(history)
    context = HookContext(session=session, actor=actor, clock=clock)
    for body, internal in ((internal_note, True), (customer_message, False)):
        if body:
            posted = _post(session, request, body, internal=internal, now=now)
            if hooks is not None:
                hooks.bbportal_message_posted(request=request, message=posted, context=context)
    if values.get("fulfilment_running"):
        context.enqueue("fulfil", request_id=request.id, attempt=request.version)
    if (
        action == Action.BRING_FORWARD
        and request_type is not None
        and request_type.mode_for(request.data) == FulfilmentMode.AUTOMATIC
    ):
        context.enqueue("start_fulfilment", request_id=request.id)
    if to_status == Status.COMPLETED:
        # Completion charges the recorded estimate in this same transaction (idempotent: keyed lines).
        charge_completed(session, request, request_type, actor, clock)
    if to_status != from_status:
        context.enqueue(
            "status_changed",
            request_id=request.id,
            from_status=from_status.value,
            to_status=to_status.value,
            action=action.value,
        )
        if hooks is not None:
            hooks.bbportal_status_changed(
                request=request, from_status=from_status, to_status=to_status, action=action.value, context=context
            )
    session.flush()
    return request


def _post(session: Session, request: Request, body: str, *, internal: bool, now: Any) -> ChatMessage:
    message = ChatMessage(
        request_id=request.id or 0,
        author_id=None,
        body=body,
        internal=internal,
        via="system",
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message
