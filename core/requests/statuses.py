"""The six request statuses and what customers see them called."""

from __future__ import annotations

from enum import StrEnum

from core.platform.i18n import lazy_gettext as _l


class Status(StrEnum):
    SCHEDULED = "scheduled"
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_CUSTOMER = "waiting_for_customer"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_closed(self) -> bool:
        return self in CLOSED

    @property
    def label(self) -> str:
        return str(LABELS[self])


CLOSED = frozenset({Status.COMPLETED, Status.CANCELLED})
OPEN = frozenset(Status) - CLOSED

# The Swedish labels come from the customer guide; these English msgids are translated by the sv catalog.
LABELS = {
    Status.SCHEDULED: _l("Scheduled"),
    Status.PENDING: _l("Waiting to be handled"),
    Status.IN_PROGRESS: _l("Being handled"),
    Status.WAITING_FOR_CUSTOMER: _l("Waiting for customer"),
    Status.COMPLETED: _l("Completed"),
    Status.CANCELLED: _l("Cancelled"),
}
