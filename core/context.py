"""The context objects plugins receive: the world a form is rendered in, a fulfilment runs in, a hook sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from core.clock import Clock, local_today
from core.models import Organisation, OutboxMessage, Store, System, User
from core.request_types import Choice

if TYPE_CHECKING:
    from core.db import Database


@dataclass
class FormContext:
    """What a form sees while it is rendered or validated: the viewer's organisation and its world."""

    session: Session
    user: User
    organisation: Organisation | None
    clock: Clock
    _systems: list[System] | None = field(default=None, repr=False)

    def today(self) -> date:
        """Today where the customers are (Europe/Stockholm)."""
        return local_today(self.clock)

    def systems(self) -> list[System]:
        if self._systems is None:
            if self.organisation is None:
                self._systems = []
            else:
                self._systems = list(
                    self.session.exec(
                        select(System)
                        .where(System.organisation_id == self.organisation.id, col(System.active).is_(True))
                        .order_by(System.name)
                    )
                )
        return self._systems

    def system_choices(self) -> list[Choice]:
        return [Choice(str(system.id), system.name) for system in self.systems()]

    def owns_system(self, system_id: int) -> bool:
        return any(system.id == system_id for system in self.systems())

    def stores(self) -> list[Store]:
        return list(self.session.exec(select(Store).where(col(Store.active).is_(True)).order_by(Store.name)))

    def store_choices(self) -> list[Choice]:
        return [Choice(str(store.id), f"{store.name}, {store.address}") for store in self.stores()]


@dataclass
class FulfilmentContext:
    """What a fulfilment hook works with; it runs outside any open transaction."""

    database: Database
    clock: Clock
    settings: Any


@dataclass
class HookContext:
    """What a lifecycle observer sees: the open transaction and a way to queue side effects in it."""

    session: Session
    actor: User | None
    clock: Clock

    def enqueue(self, topic: str, **payload: Any) -> OutboxMessage:
        """Record a side effect in the current transaction; the relay hands it to a worker after commit."""
        now = self.clock.now()
        message = OutboxMessage(topic=topic, payload=payload, created_at=now, available_at=now)
        self.session.add(message)
        return message
