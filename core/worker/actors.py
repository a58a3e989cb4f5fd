"""Dramatiq actors. They take outbox ids and are idempotent: the outbox row says whether work is owed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq

from core.platform import outbox
from core.workflow import topics

if TYPE_CHECKING:
    from core.portal import Portal

_portal: Portal | None = None


def bind_portal(portal: Portal) -> None:
    """Each worker process (or the embedded worker) binds the portal its actors work with."""
    global _portal
    _portal = portal


def bind_broker(broker: dramatiq.Broker) -> None:
    """The actors run on ``broker``.

    An actor is bound to the global broker when this module is first imported; that can be before the
    embedded worker set its in-memory broker (a module that imported the actors earlier, tests that used
    Redis first), and the relay's messages would then go to a broker nobody consumes.
    """
    if handle_outbox_message.broker is not broker:
        handle_outbox_message.broker = broker
        broker.declare_actor(handle_outbox_message)


def _bound() -> Portal:
    global _portal
    if _portal is None:
        from core.portal import build_portal

        _portal = build_portal()
    return _portal


# Retries are the outbox's (durable, with backoff, visible to staff), not Dramatiq's.
@dramatiq.actor(queue_name="outbox", max_retries=0, time_limit=int(outbox.JOB_TIME_LIMIT.total_seconds() * 1000))
def handle_outbox_message(message_id: int) -> None:
    portal = _bound()
    topic = outbox.process(portal, message_id)
    if topic is not None and topic not in topics.LEAF_TOPICS:
        # What this job queued (one mail per recipient) goes out now, not at the relay's next round.
        relay_once(portal)


def relay_once(portal: Portal, broker: dramatiq.Broker | None = None) -> int:
    """Hand every due outbox row to the broker (the configured one unless given); returns how many."""
    ids = outbox.due_for_relay(portal)
    for position, message_id in enumerate(ids):
        try:
            if broker is None:
                handle_outbox_message.send(message_id)
            else:
                broker.enqueue(handle_outbox_message.message(message_id))
        except Exception:
            outbox.unmark_relayed(portal, ids[position:])  # the broker is away: try these again next round
            raise
    return len(ids)
