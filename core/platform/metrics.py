"""The portal's Prometheus counters, and the exposition that adds up those of every process of a host.

Why prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) for the counters, and not counting
rows at scrape time: a counter must never go down and must count what left no row behind. A mail the server
refused leaves only a ``last_error`` that the next attempt overwrites; a refused inbound mail stores nothing;
old outbox rows and inbound mails may be deleted by housekeeping, and a count of rows would then fall. The
counters are therefore kept where the work happens — in a Dramatiq worker process, the relay, the mail
listener, one of several web processes — and each of those processes writes its values into its own file in
the shared folder (``<kind>_<pid>.db``). ``/metrics``, whichever web process answers it, reads all the files
of the host and sums them, so a scrape sees every process, including processes that have exited since (their
counts are not lost). Without the folder (embedded mode, one process) the process's own registry is exposed.

What is a state rather than an event — requests by status, the outbox backlog — is not counted at all but
read from the database when Prometheus scrapes (``core.web.metrics``): one grouped query, nothing kept in
memory, and the same answer from every web process.

Several hosts: each host's processes share one folder (``/run/bbportal/metrics``, a tmpfs emptied at boot);
Prometheus scrapes a web process on every host (or ``bbportal metrics`` on a host with workers only) and
``sum()`` adds the hosts up. The counters never carry an unbounded label (no request number, no address).
"""

from __future__ import annotations

import logging
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from core.platform.settings import Settings

log = logging.getLogger(__name__)

MAILS_SENT = Counter("bbportal_mails_sent_total", "Mails handed to the mail server (or the mail folder).", ["kind"])
MAILS_FAILED = Counter(
    "bbportal_mails_failed_total",
    "Attempts to send a mail that the mail server refused or could not be reached for (the job retries).",
    ["kind"],
)
INBOUND_MAILS = Counter(
    "bbportal_inbound_mails_total",
    "Inbound mails by outcome: attached, quarantined, ignored (auto-replies, reports), refused (too large, empty) "
    "or deferred (the portal could not take it now; the MTA retries).",
    ["outcome"],
)
FULFILMENTS = Counter(
    "bbportal_fulfilments_total",
    "Runs of an automatic or approved fulfilment by outcome: succeeded, failed, postponed (the hosted system "
    "asked to try later) or waiting (an earlier request about the same thing is still owed).",
    ["type", "outcome"],
)
JOBS = Counter(
    "bbportal_jobs_total",
    "Background jobs (outbox rows) run, by topic and outcome: done, retry (failed, runs again after a backoff) "
    "or failed (failed for the last time; staff see it under Jobs).",
    ["topic", "outcome"],
)
JOB_SECONDS = Histogram(
    "bbportal_job_duration_seconds",
    "How long a background job's handler ran.",
    ["topic"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600),
)


_broken: set[str] = set()
"""Metrics that could not be counted in this process (said once in the log, not for every event)."""


def count(counter: Counter, **labels: str) -> None:
    """Add one to ``counter``: a counter never stops the work it counts.

    In multiprocess mode a value lives in a file; a process that cannot write the folder (``bbportal mail
    receive`` run by the MTA as another user, a full disk) must still take the mail or send it.
    """
    try:
        counter.labels(**labels).inc()
    except OSError as exc:
        _cannot(counter, exc)


def observe(histogram: Histogram, amount: float, **labels: str) -> None:
    """Record ``amount`` in ``histogram``; like :func:`count`, never at the cost of the work."""
    try:
        histogram.labels(**labels).observe(amount)
    except OSError as exc:
        _cannot(histogram, exc)


def _cannot(metric: Counter | Histogram, exc: OSError) -> None:
    name = metric._name
    if name not in _broken:
        _broken.add(name)
        log.warning("cannot count %s in this process (%s: %s)", name, type(exc).__name__, exc)


def prepare(settings: Settings) -> None:
    """Make the multiprocess folder if it is set and missing (a counter's first use would fail without it)."""
    if settings.metrics_dir is not None:
        try:
            Path(settings.metrics_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # counted nowhere then (see count), but the process does its work
            log.warning("cannot make the metrics folder %s (%s: %s)", settings.metrics_dir, type(exc).__name__, exc)


def exposition(settings: Settings, *collectors: Collector) -> bytes:
    """The text exposition: every process's counters (the folder's, else this process's), then ``collectors``.

    In multiprocess mode the default registry holds only this process's values, so the folder is read instead;
    counters other modules register on the default registry (housekeeping's) write to the folder like ours.
    """
    if settings.metrics_dir is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(settings.metrics_dir))
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    extra = CollectorRegistry()
    for collector in collectors:
        extra.register(collector)
    return counted + generate_latest(extra)
