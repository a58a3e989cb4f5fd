"""The context objects plugins receive: the world a form is rendered in, a fulfilment runs in, a hook sees."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from core.models import Office, Organisation, Store, System, User
from core.platform.clock import Clock, local_today
from core.platform.errors import ConfigurationError
from core.platform.outbox import enqueue
from core.requests.request_types import Choice, RequestType, RequestTypeRegistry
from core.views import AttachmentView, OfficeView, OrganisationView, RequestView, StoreView, SystemView, UserView

if TYPE_CHECKING:
    from core.access_control import AccessControl
    from core.platform.db import Database
    from core.platform.storage import FileStorage
    from core.portal import Portal

AdapterLookup = Callable[[SystemView], "AccessControl"]


@dataclass
class FormContext:
    """What a form sees while it is rendered or validated: the viewer's organisation and its world."""

    session: Session
    """Read-only: for the plugin's own tables. The core's tables are read through this context's methods."""
    user: UserView
    organisation: OrganisationView | None
    clock: Clock
    access_control_for: AdapterLookup | None = field(default=None, repr=False)
    for_display: bool = False
    """True when ``choices()`` is asked to label a stored request's values rather than to offer options.

    A value that is no longer offered (a removed user, a closed store) must still read as its label on an
    old request, so a type may then include what its form would leave out.
    """
    notices: list[str] = field(default_factory=list)
    """Lines shown above the form while it is rendered (see :meth:`notice`)."""
    _systems: list[SystemView] | None = field(default=None, repr=False)

    def notice(self, text: str) -> None:
        """Tell the customer, above the form, that part of it cannot be offered now (a list the hosted system
        could not give) and what to do instead. ``text`` is already translated; the same line is shown once."""
        if text not in self.notices:
            self.notices.append(text)

    def today(self) -> date:
        """Today where the customers are (Europe/Stockholm)."""
        return local_today(self.clock)

    def systems(self, kinds: Iterable[str] | None = None) -> list[SystemView]:
        """The organisation's active systems by name; only those of ``kinds`` (:class:`SystemKind`) if given."""
        if self._systems is None:
            if self.organisation is None:
                self._systems = []
            else:
                self._systems = [
                    SystemView.of(row)
                    for row in self.session.exec(
                        select(System)
                        .where(System.organisation_id == self.organisation.id, col(System.active).is_(True))
                        .order_by(System.name)
                    )
                ]
        if kinds is None:
            return list(self._systems)
        wanted = {str(kind) for kind in kinds}
        return [system for system in self._systems if system.kind in wanted]

    def system_choices(self, kinds: Iterable[str] | None = None) -> list[Choice]:
        return [Choice(str(system.id), system.name) for system in self.systems(kinds)]

    def owns_system(self, system_id: int, kinds: Iterable[str] | None = None) -> bool:
        return any(system.id == system_id for system in self.systems(kinds))

    def system(self, system_id: Any) -> SystemView | None:
        """One of the organisation's active systems, or None (another organisation's, or no such system)."""
        try:
            wanted = int(system_id)
        except (TypeError, ValueError):
            return None
        return next((system for system in self.systems() if system.id == wanted), None)

    def access_control(self, system_id: Any) -> AccessControl | None:
        """The adapter of one of the organisation's systems; None if the system is not theirs."""
        system = self.system(system_id)
        if system is None or self.access_control_for is None:
            return None
        return self.access_control_for(system)

    def stores(self, *, include_inactive: bool = False) -> list[StoreView]:
        """The stores where ordered things can be picked up (only open ones unless asked otherwise)."""
        query = select(Store).order_by(Store.name)
        if not include_inactive:
            query = query.where(col(Store.active).is_(True))
        return [StoreView.of(row) for row in self.session.exec(query)]

    def store_choices(self) -> list[Choice]:
        stores = self.stores(include_inactive=self.for_display)
        return [Choice(str(store.id), f"{store.name}, {store.address}") for store in stores]


def form_context_for(
    *,
    session: Session,
    user: User,
    organisation: Organisation | None,
    clock: Clock,
    access_control_for: AdapterLookup | None = None,
    for_display: bool = False,
) -> FormContext:
    """The form context of a user and organisation the core has as rows (the plugin sees their views)."""
    return FormContext(
        session=session,
        user=UserView.of(user),
        organisation=OrganisationView.of(organisation) if organisation is not None else None,
        clock=clock,
        access_control_for=access_control_for,
        for_display=for_display,
    )


@dataclass
class FulfilmentContext:
    """What a fulfilment hook works with; it runs outside any open transaction.

    ``portal`` gives the core's services (users, invitations, mail) to the types that need them; most hooks
    need only ``access_control`` and ``attach``.
    """

    database: Database
    clock: Clock
    settings: Any
    storage: FileStorage
    portal: Portal

    @property
    def staff_language(self) -> str:
        """The language internal notes are written in: the installation's default."""
        return str(getattr(self.settings, "default_language", "sv"))

    def customer_language(self, request: RequestView) -> str:
        """The language the requester chose: a chat line for the customer is stored in it, not translated later."""
        with self.database.reading() as session:
            requester = session.get(User, request.requester_id)
        return requester.language if requester is not None else self.staff_language

    def system(self, request: RequestView) -> SystemView | None:
        """The hosted system the request names, or None."""
        if request.system_id is None:
            return None
        with self.database.reading() as session:
            row = session.get(System, request.system_id)
            return SystemView.of(row) if row is not None else None

    def office(self, request: RequestView) -> OfficeView | None:
        """The local office of the request's organisation: the number a customer is given to call."""
        with self.database.reading() as session:
            organisation = session.get(Organisation, request.organisation_id)
            row = session.get(Office, organisation.office_id) if organisation is not None else None
            return OfficeView.of(row) if row is not None else None

    def access_control(self, request: RequestView) -> AccessControl:
        """The adapter of the request's system (the request must name one)."""
        system = self.system(request)
        if system is None:
            raise LookupError(f"{request.number} names no hosted system.")
        return self.portal.access_control(system)

    def attach(
        self,
        request: RequestView,
        *,
        filename: str,
        content_type: str,
        chunks: Iterable[bytes],
        origin: str,
        internal: bool = False,
    ) -> AttachmentView:
        """Store a file the fulfilment made on the request; a retry with the same ``origin`` replaces it.

        ``chunks`` is consumed once, as a stream: a large extract never has to fit in memory, and no database
        transaction is open while it is written.
        """
        from core.requests.attachments import store_generated

        stored = store_generated(
            self.database,
            self.storage,
            self.clock,
            request_id=request.id or 0,
            filename=filename,
            content_type=content_type,
            chunks=chunks,
            origin=origin,
            internal=internal,
        )
        return AttachmentView.of(stored)


@dataclass
class HookContext:
    """What a lifecycle observer sees: the open transaction and a way to queue side effects in it."""

    session: Session
    """The open write transaction: the plugin's own rows written here commit (or roll back) with the change."""
    actor: UserView | None
    clock: Clock
    registry: RequestTypeRegistry | Mapping[str, RequestType] | None = field(default=None, repr=False)
    """The installed request types (or the one the change concerns), for ``request_type``."""

    def request_type(self, key: str) -> RequestType | None:
        """The installed request type ``key``, or None (its plugin is gone, or the caller knew no types)."""
        return self.registry.get(key) if self.registry is not None else None

    def enqueue(self, topic: str, dedupe_key: str | None = None, **payload: Any) -> bool:
        """Record a side effect in the current transaction; the relay hands it to a worker after commit.

        A ``dedupe_key`` already queued is skipped (returns False): re-running the observer adds nothing.
        Mail is not a topic of yours: queue it with ``core.api.queue_mail`` (a kind and a recipient).
        """
        if topic == "send_mail":
            raise ConfigurationError(
                "Mail is queued with core.api.queue_mail(session, kind, recipient, ...), not as a topic."
            )
        return enqueue(self.session, topic, payload, dedupe_key, now=self.clock.now()) == 1


@dataclass
class HousekeepingContext:
    """What ``bbportal_housekeeping`` works with: the moment of the run and a way to remove what has expired.

    It runs outside any open transaction, in the background process (daily) or in ``bbportal housekeeping``.
    """

    database: Database
    clock: Clock
    settings: Any
    storage: FileStorage
    now: datetime
    """The moment of this run (UTC): expiry is measured from it."""

    def remove_files(self, type_key: str, *, origins: Iterable[str], made_before: datetime) -> int:
        """Remove the files fulfilments of requests of type ``type_key`` made with one of ``origins`` (the
        ``origin`` given to ``FulfilmentContext.attach``) before ``made_before``; returns how many.

        Only files a fulfilment made are touched, never a file a person sent. The file's row goes first and
        the stored file after it, so a file is never listed that can no longer be downloaded.
        """
        from core.requests.attachments import remove_generated

        return remove_generated(
            self.database, self.storage, type_key=type_key, origins=list(origins), made_before=made_before
        )
