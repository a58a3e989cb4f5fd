"""What ``/metrics`` shows besides the counters: the portal's state, read from the database when Prometheus asks.

Requests by status and the outbox backlog are states, not events; keeping them as gauges in memory would need
every process that changes them to update them, and several web processes would each hold a different part.
The collector below asks the database instead, once per scrape: one grouped query over the requests (on the
queue index, whose first column is the status), one over the outbox rows that are not done (the relay's
index, whose first column is the status, so the done rows — nearly all of them — are never read), and the
relay's own query for the oldest row that waits. Every web process gives the same answer.

The bearer token (``BBPORTAL_METRICS_TOKEN``) is compared in constant time; without a token there is no
``/metrics`` at all (404), and a wrong or missing one gets 401.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from core.models import InboundMail, Request
from core.platform import metrics, outbox
from core.platform.outbox import OutboxMessage, OutboxStatus
from core.platform.settings import Settings
from core.portal import Portal
from core.requests.statuses import Status

NOT_DONE = (OutboxStatus.PENDING.value, OutboxStatus.FAILED.value)


class PortalCollector(Collector):
    """Gauges computed at scrape time (see the module's docstring); nothing is kept between scrapes."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    def collect(self) -> Iterator[Metric]:
        with self.portal.database.reading() as session:
            by_status = dict(session.exec(select(Request.status, func.count()).group_by(col(Request.status))).all())
            jobs = session.exec(
                select(OutboxMessage.topic, OutboxMessage.status, func.count())
                .where(col(OutboxMessage.status).in_(NOT_DONE))
                .group_by(col(OutboxMessage.topic), col(OutboxMessage.status))
            ).all()
            quarantined = session.exec(
                select(func.count()).select_from(InboundMail).where(col(InboundMail.status) == "quarantined")
            ).one()
        oldest = outbox.oldest_waiting(self.portal)

        requests = GaugeMetricFamily("bbportal_requests", "Requests by status, now.", labels=["status"])
        for known in Status:
            requests.add_metric([known.value], by_status.get(known.value, 0))
        yield requests

        backlog = GaugeMetricFamily(
            "bbportal_outbox_jobs",
            "Background jobs (outbox rows) not done, by topic and status: pending (waiting, in flight or backing "
            "off) or failed (given up; staff retry them under Jobs).",
            labels=["topic", "status"],
        )
        for topic, status, count in sorted(jobs):
            backlog.add_metric([topic, status], count)
        yield backlog

        age = 0.0 if oldest is None else max((self.portal.clock.now() - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "bbportal_outbox_oldest_waiting_seconds",
            "How long the oldest job that is due has waited for the relay (0: none waits). /readyz fails past "
            "BBPORTAL_OUTBOX_MAX_WAIT_MINUTES.",
            value=age,
        )
        yield GaugeMetricFamily(
            "bbportal_inbound_mails_quarantined",
            "Inbound mails waiting in the quarantine for staff.",
            value=quarantined,
        )


def authorized(settings: Settings, header: str | None) -> bool:
    """Whether ``Authorization`` carries the configured token (never when none is configured)."""
    if not settings.metrics_token or not header:
        return False
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings.metrics_token.encode())


def exposition(portal: Portal) -> bytes:
    """The whole text exposition: every process's counters of this host, then the state from the database."""
    return metrics.exposition(portal.settings, PortalCollector(portal))
