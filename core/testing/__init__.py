"""The test kit that ships with the portal: what a request-type plugin's tests use.

Installing the portal registers :mod:`core.testing.fixtures` as a pytest plugin (entry point ``pytest11``),
so a plugin package outside this repository gets the ``portal``, ``world``, ``web``, ``customer_web`` and
``staff_web`` fixtures without a conftest. This module adds the functions a test calls: the contract
check (:func:`check_request_type`), filing and staff actions through the real pipeline, running the
background work to the end, a :class:`~core.api.FulfilmentContext` for unit tests of ``fulfil``, and the
mails the portal wrote. Everything here is documented in ``docs/plugin-api.md`` (section "The test kit").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, cast

from core.models import Organisation, User
from core.platform import outbox
from core.platform.clock import FixedClock
from core.requests.context import FormContext, FulfilmentContext, form_context_for
from core.requests.lifecycle import Action
from core.requests.queries import find_request
from core.requests.request_types import RequestType
from core.testing.contract import (
    Mutation,
    assert_charge_items,
    assert_mutations_refused,
    assert_round_trip,
    check_request_type,
    email_addresses,
    mutations,
    payloads,
    swedish_phone_numbers,
)
from core.testing.web import WebClient
from core.testing.world import PASSWORD, World, make_world
from core.views import RequestView, SystemView, UserView

if TYPE_CHECKING:
    from core.portal import Portal


def _user(portal: Portal, user: UserView | int) -> User:
    with portal.database.reading() as session:
        row = session.get(User, user if isinstance(user, int) else user.id)
    if row is None:
        raise LookupError(f"There is no user {user!r}.")
    return row


@contextmanager
def form_context(portal: Portal, user: UserView | int) -> Iterator[FormContext]:
    """The context a form of ``user``'s organisation is rendered and validated in (a read-only session)."""
    row = _user(portal, user)
    with portal.database.reading() as session:
        organisation = session.get(Organisation, row.organisation_id) if row.organisation_id else None
        yield form_context_for(
            session=session,
            user=row,
            organisation=organisation,
            clock=portal.clock,
            access_control_for=portal.access_control,
        )


def file_request(
    portal: Portal, user: UserView | int, type_key: str, payload: dict[str, Any], *, carry_out_on: Any = None
) -> RequestView:
    """File a request as ``user`` through the same pipeline as the form and the API (validation, billing,
    hooks, receipt mail queued). Raises ``ValidationFailed`` with the field errors the form would show."""
    from core.workflow import actions

    return RequestView.of(actions.file(portal, _user(portal, user), type_key, payload, carry_out_on))


def staff_action(
    portal: Portal,
    staff: UserView | int,
    request_id: int,
    action: str,
    *,
    reason: str = "",
    assignee: UserView | int | None = None,
) -> RequestView:
    """Apply one staff action as the staff queue does: ``take``, ``carry_out`` (*Utför*: starts an
    ``on_approval`` fulfilment in the background), ``complete``, ``ask_customer`` (needs a ``reason``: the
    question), ``hand_back``, ``assign`` (to ``assignee``, a staff member), ``reject`` (needs a reason) …
    Raises ``Conflict`` with the message staff would see when the action is not possible now, and
    ``ValueError`` for an action that does not exist."""
    from core.workflow import actions

    if action not in Action._value2member_map_:
        raise ValueError(f"{action!r} is not an action; one of: {', '.join(sorted(Action._value2member_map_))}")
    assignee_id = assignee if isinstance(assignee, int) or assignee is None else assignee.id
    done = actions.perform(
        portal, _user(portal, staff), request_id, Action(action), reason=reason, assignee_id=assignee_id
    )
    return RequestView.of(done)


def simulate_fault(portal: Portal, system: SystemView | int, fault: str = "", *, fail_next: int = 0) -> None:
    """Make the embedded simulator misbehave for one system, as a real hosted system can.

    ``fault``: ``"unavailable"`` (every call raises ``AccessControlUnavailable``), ``"refuse"`` (lookups answer,
    every change raises ``AccessControlRefused``) or ``""`` (answers normally again). ``fail_next``: the next N
    changing calls raise ``AccessControlUnavailable``, then the system answers. Call it outside a transaction.
    """
    from core.access_control.simulator.provisioning import set_fault

    set_fault(portal.database, system if isinstance(system, int) else system.id, fault, fail_next=fail_next)


def run_background_work(portal: Portal) -> int:
    """Do everything the workers would do now, to the end: fan-out, mails, automatic and approved fulfilments,
    plugin jobs. Returns how many jobs ran. Scheduled requests are released by the clock; move it with
    ``clock.advance`` and call :func:`release_due` first."""
    return outbox.drain(portal, rounds=50)


def release_due(portal: Portal) -> list[int]:
    """Release the scheduled requests whose day has come (the scheduler's job); returns their ids."""
    from core.requests.scheduling import release_due as release

    return list(release(portal))


def request_view(portal: Portal, request_id: int) -> RequestView:
    """The request as it is now in the database."""
    with portal.database.reading() as session:
        found = find_request(session, request_id)
    if found is None:
        raise LookupError(f"There is no request {request_id}.")
    return found


def fulfilment_context(portal: Portal) -> FulfilmentContext:
    """The context ``fulfil`` runs in, for a unit test that calls ``request_type.fulfil(request, context)``."""
    return FulfilmentContext(
        database=portal.database, clock=portal.clock, settings=portal.settings, storage=portal.storage, portal=portal
    )


def sent_mails(portal: Portal) -> list[EmailMessage]:
    """Every mail the portal has sent so far (embedded mode writes each to ``<data_dir>/mail``), oldest first."""
    folder = portal.settings.data_dir / "mail"
    if not folder.exists():
        return []
    files = sorted(folder.glob("*.eml"), key=lambda path: (path.stat().st_mtime_ns, path.name))
    return [cast(EmailMessage, message_from_bytes(path.read_bytes(), policy=policy.default)) for path in files]


def portal_msgids() -> frozenset[str]:
    """Every msgid of the portal's own Swedish catalog: words a plugin's catalog must leave alone (its entry
    would change the portal's word on every page). The scaffold's tests check a package's catalog with it."""
    from core.platform.i18n import core_msgids

    return core_msgids()


def check_catalog(request_type: RequestType, language: str = "sv") -> None:
    """The type's catalog for ``language`` exists, gives every entry a translation, and leaves the portal's own
    msgids alone (see :func:`portal_msgids`); raises ``AssertionError`` naming what is wrong."""
    from babel.messages.pofile import read_po

    from core.platform.i18n import po_path

    if request_type.locale_dir is None or request_type.translation_domain is None:
        raise AssertionError(f"{request_type.key} sets no locale_dir and translation_domain: it has no catalog")
    po = po_path(request_type.locale_dir, request_type.translation_domain, language)
    if not po.is_file():
        raise AssertionError(f"{request_type.key} has no {language} catalog at {po}")
    with po.open("rb") as source:
        messages = [m for m in read_po(source, locale=language) if isinstance(m.id, str) and m.id]
    portal = sorted(m.id for m in messages if m.id in portal_msgids())
    assert not portal, f"{po.name} translates the portal's own msgids again (leave them out): {portal}"
    empty = [str(m.id) for m in messages if not m.string]
    assert not empty, f"{po.name} has entries without a translation: {empty}"


def chat_lines(portal: Portal, request_id: int, *, internal: bool = False) -> list[str]:
    """The bodies of a request's chat, oldest first; internal notes only when ``internal`` is True."""
    from sqlmodel import col, select

    from core.models import ChatMessage

    with portal.database.reading() as session:
        query = select(ChatMessage).where(ChatMessage.request_id == request_id).order_by(col(ChatMessage.id))
        return [row.body for row in session.exec(query) if internal or not row.internal]


__all__ = [
    "PASSWORD",
    "FixedClock",
    "Mutation",
    "WebClient",
    "World",
    "assert_charge_items",
    "assert_mutations_refused",
    "assert_round_trip",
    "chat_lines",
    "check_catalog",
    "check_request_type",
    "email_addresses",
    "file_request",
    "form_context",
    "fulfilment_context",
    "make_world",
    "mutations",
    "payloads",
    "portal_msgids",
    "release_due",
    "request_view",
    "run_background_work",
    "sent_mails",
    "simulate_fault",
    "staff_action",
    "swedish_phone_numbers",
]
