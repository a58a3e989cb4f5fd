"""The core's own outbox topics and their handlers: what a worker does with each kind of background job.

Kept apart from :mod:`core.platform.outbox` (which stores, hands out and retries jobs whatever they are) so that the
queue does not depend on the work it carries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.conversation import notifications
from core.mail import service as mail
from core.platform.outbox import MAX_ATTEMPTS, Finish, Handler
from core.requests import search
from core.workflow import fulfilment

if TYPE_CHECKING:
    from core.platform.outbox import OutboxMessage
    from core.portal import Portal


def _start_fulfilment(portal: Portal, message: OutboxMessage) -> None:
    fulfilment.start_automatic(portal, int(message.payload["request_id"]))


def _fulfil(portal: Portal, message: OutboxMessage) -> None:
    # A file the storage could not take is tried again with the outbox's backoff, up to its last attempt.
    fulfilment.run(portal, int(message.payload["request_id"]), message, may_retry=message.attempts + 1 < MAX_ATTEMPTS)


def _fan_out(portal: Portal, message: OutboxMessage) -> Finish | None:
    return notifications.fan_out(portal, message)


def _send_mail(portal: Portal, message: OutboxMessage) -> None:
    mail.send(portal, message)


def _reindex(portal: Portal, message: OutboxMessage) -> None:
    payload = message.payload
    search.reindex(
        portal.database,
        portal.registry.schema_of,
        organisation_id=payload.get("organisation_id"),
        requester_id=payload.get("requester_id"),
    )


LEAF_TOPICS = frozenset({"send_mail", search.REINDEX_TOPIC})
"""Topics whose handlers never queue further work: after one, no relay round is owed (each costs a scan)."""

HANDLERS: dict[str, Handler] = {
    "start_fulfilment": _start_fulfilment,
    "fulfil": _fulfil,
    "request_filed": _fan_out,
    "status_changed": _fan_out,
    "send_mail": _send_mail,
    search.REINDEX_TOPIC: _reindex,
}
"""The core's topics. Their handlers may return a write done in the done mark's transaction (``Finish``)."""
