"""The one place the Dramatiq broker is built and set, before any actor module is imported."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

_broker: dramatiq.Broker | None = None


def configure_broker(redis_url: str = "", namespace: str = "bbportal") -> dramatiq.Broker:
    """Redis when a URL is given (production), else an in-memory broker for the embedded worker.

    The outbox, not the broker, is the durable record: messages lost with an in-memory broker, or with a
    worker killed mid-job, are handed out again by the relay. The Redis settings make a killed worker's
    message come back in seconds instead of the default ~8 minutes (see STACK-NOTES).
    """
    global _broker
    if _broker is not None:
        return _broker
    if redis_url:
        broker: dramatiq.Broker = RedisBroker(
            url=redis_url, namespace=namespace, heartbeat_timeout=10_000, maintenance_chance=1_000_000
        )
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    _broker = broker
    return broker


MEMORY_KEY = "relay-memory"
"""A key the relay keeps in Redis (under the namespace): while it is there, Redis still holds what it was given."""


def broker_forgot(broker: dramatiq.Broker) -> bool:
    """True when Redis no longer holds the messages handed to it before (restarted without persistence, flushed).

    The marker key is set here when it is missing, so one relay (of several) answers True once per loss; the
    first relay that ever runs against a Redis answers True too (nothing can be in flight there then). A caller
    that could not act on a True gives it back with :func:`broker_forgot_again`. An in-memory broker never
    answers True: the embedded worker forgets at its start. Redis must not evict keys (``maxmemory-policy
    noeviction``, which Dramatiq's queues need anyway).
    """
    if not isinstance(broker, RedisBroker):
        return False
    return bool(broker.client.set(_memory_key(broker), "1", nx=True))


def broker_forgot_again(broker: dramatiq.Broker) -> None:
    """Remove the marker: the next :func:`broker_forgot` answers True again."""
    if isinstance(broker, RedisBroker):
        broker.client.delete(_memory_key(broker))


def _memory_key(broker: RedisBroker) -> str:
    return f"{broker.namespace}:{MEMORY_KEY}"


def reset_broker() -> None:
    """Tests build brokers of both kinds in one process."""
    global _broker
    _broker = None
