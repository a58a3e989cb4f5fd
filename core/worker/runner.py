"""The relay loop and the embedded (in-process) worker that the web process runs in embedded mode."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import dramatiq
from dramatiq import Worker

from core.platform import heartbeat, outbox, request_ids

if TYPE_CHECKING:
    from core.portal import Portal

log = logging.getLogger(__name__)
REMINDER_CHECK_SECONDS = 300.0
"""Reminders are due in working days: looking every five minutes is plenty."""
HOUSEKEEPING_CHECK_SECONDS = 600.0
"""How often the background side asks whether the day's housekeeping is due (one process runs it a day)."""


def housekeeping_if_due(portal: Portal) -> None:
    """The daily housekeeping (``core.workflow.housekeeping``), if no background process has run it today."""
    from core.workflow.housekeeping import run_if_due

    run_if_due(portal)


def relay_once(portal: Portal, broker: dramatiq.Broker | None = None) -> int:
    """``actors.relay_once``, imported when first called: the actors module binds to the broker set by then."""
    from core.worker import actors

    return actors.relay_once(portal, broker)


def recover_lost_messages(portal: Portal, broker: dramatiq.Broker) -> int:
    """When Redis lost what it held, hand out again every row that was in flight; returns how many.

    The relay calls this before each round. When the database cannot take it (not migrated yet, away for a
    moment), the loss is noted again so that a later round retries instead of the rows waiting out
    ``outbox.REDELIVER_AFTER``.
    """
    from core.worker.broker import broker_forgot, broker_forgot_again

    if not broker_forgot(broker):
        return 0
    try:
        return outbox.forget_in_flight(portal)
    except BaseException:
        broker_forgot_again(broker)
        raise


class Pulse:
    """The relay's heartbeat (``/readyz`` reads it), beaten after a round that went through.

    At most every :data:`heartbeat.INTERVAL`: on SQLite a beat is a writer's turn, and the relay runs twice a
    second. ``alive`` says whether the rest of the background side still works (the embedded worker's
    threads); while it does not, the heartbeat goes stale and readiness fails.
    """

    def __init__(self, portal: Portal, alive: Callable[[], bool] | None = None) -> None:
        self.portal = portal
        self.alive = alive
        self._last = -float("inf")

    def __call__(self) -> None:
        if time.monotonic() - self._last < heartbeat.INTERVAL.total_seconds():
            return
        if self.alive is not None and not self.alive():
            return
        heartbeat.beat(self.portal.database, heartbeat.RELAY, self.portal.clock.now())
        self._last = time.monotonic()


class Relay(threading.Thread):
    """Polls the outbox every ``interval`` seconds; a broker outage only delays delivery."""

    def __init__(self, portal: Portal, interval: float = 0.5, alive: Callable[[], bool] | None = None) -> None:
        super().__init__(name="bbportal-relay", daemon=True)
        self.portal = portal
        self.interval = interval
        self.pulse = Pulse(portal, alive)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                relay_once(self.portal)
                self.pulse()
            except Exception:  # the broker or the database is away for a moment: try again next round
                log.exception("outbox relay round failed")
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


class Ticker(threading.Thread):
    """The worker side's clock tick: releases scheduled requests that have become due, sends due reminders
    and runs the daily housekeeping."""

    def __init__(self, portal: Portal) -> None:
        super().__init__(name="bbportal-tick", daemon=True)
        self.portal = portal
        self.stopping = threading.Event()

    def run(self) -> None:
        from core.conversation.reminders import send_due_reminders
        from core.requests.scheduling import release_due

        last_reminders = last_housekeeping = -float("inf")
        while not self.stopping.is_set():
            try:
                with request_ids.bound(request_ids.new()):  # what a round releases or reminds shares one id
                    release_due(self.portal)
                    if time.monotonic() - last_reminders >= REMINDER_CHECK_SECONDS:
                        last_reminders = time.monotonic()
                        send_due_reminders(self.portal)
                    if time.monotonic() - last_housekeeping >= HOUSEKEEPING_CHECK_SECONDS:
                        last_housekeeping = time.monotonic()
                        housekeeping_if_due(self.portal)
            except Exception:
                log.exception("release tick failed")
            self.stopping.wait(self.portal.settings.tick_seconds)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


class EmbeddedWorker:
    """Embedded mode: an in-memory broker, a Dramatiq worker and the relay, all inside the web process."""

    def __init__(self, portal: Portal, worker_threads: int = 2) -> None:
        from core.worker.broker import configure_broker

        self.broker = configure_broker()
        from core.worker.actors import bind_broker, bind_portal

        bind_broker(self.broker)
        bind_portal(portal)
        self.portal = portal
        self.worker = Worker(self.broker, worker_threads=worker_threads, worker_timeout=100)
        self.relay = Relay(portal, alive=self.alive)
        self.ticker = Ticker(portal)

    def alive(self) -> bool:
        """The Dramatiq worker's threads and the tick still run (the relay asks: it is the one beating)."""
        threads = [*self.worker.workers, *self.worker.consumers.values(), self.ticker]
        return all(thread.is_alive() for thread in threads)

    def start(self) -> None:
        outbox.forget_in_flight(self.portal)
        self.worker.start()
        self.relay.start()
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()
        self.relay.stop()
        self.worker.stop()


__all__ = ["EmbeddedWorker", "Pulse", "Relay", "dramatiq", "recover_lost_messages", "relay_once"]
