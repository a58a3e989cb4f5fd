"""Benchmark: status change → mail received by the SMTP server, with Redis and 2 dramatiq worker processes.

Starts a real SMTP server (aiosmtpd) in this process, two ``dramatiq core.worker.main`` processes on a
fresh Redis namespace, and the outbox relay (as ``bbportal relay`` runs it, every 0.5 s). Then it makes
``--changes`` status changes (staff take requests) at ``--rate`` per second and records, for each, the time
from the committed change to the mail's arrival at the SMTP server; a second phase makes ``--burst``
changes at once and reports the sustained mails per second.

    .venv/bin/python bench/mail_latency.py --changes 200 --rate 20 --burst 500
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from dramatiq.brokers.redis import RedisBroker  # noqa: E402
from sqlmodel import select  # noqa: E402

from core import demo  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.models import System, User  # noqa: E402
from core.platform.db import create_database  # noqa: E402
from core.platform.mailer import SmtpMailer  # noqa: E402
from core.platform.settings import Settings  # noqa: E402
from core.portal import build_portal  # noqa: E402
from core.requests.lifecycle import Action  # noqa: E402
from core.worker.runner import relay_once  # noqa: E402
from core.workflow import actions as workflow  # noqa: E402

REDIS_URL = os.environ.get("BBPORTAL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


class Arrivals:
    def __init__(self) -> None:
        self.at: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.at.setdefault(str(message["X-BBPortal-Request"]), []).append(time.time())
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.at.values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="status changes per second in phase 1")
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bb-mail-bench-"))
    namespace = f"bbbench-{uuid.uuid4().hex[:8]}"
    arrivals = Arrivals()
    smtp_port = free_port()
    controller = Controller(arrivals, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    secret = "bench-" + "k" * 48
    settings = Settings(
        data_dir=folder, secret_key=secret, database_url=args.database_url, embedded_worker=False, _env_file=None
    )  # type: ignore[call-arg]
    database = create_database(settings.resolved_database_url)
    upgrade(database)
    portal = build_portal(
        settings,
        database=database,
        mailer=SmtpMailer("127.0.0.1", smtp_port, "none", "", "", "bounces@bbgruppen.example"),
    )
    with database.writing() as session:
        demo.load(session, portal.clock)
    with database.reading() as session:
        customer = session.exec(select(User).where(User.email == demo.DEMO_LOGINS[0].email)).one()
        staff = session.exec(select(User).where(User.email == demo.DEMO_LOGINS[2].email)).one()
        system = session.exec(select(System).where(System.organisation_id == customer.organisation_id)).first()
    with database.writing() as session:  # only status-change mails are measured
        stored = session.get(User, customer.id)
        stored.notify = "all"  # type: ignore[union-attr]
    total = args.changes + args.burst
    payload = {
        "system_id": system.id,
        "location": "Entré",
        "description": "Låset kärvar",  # type: ignore[union-attr]
        "contact_name": "Anna",
        "contact_phone": "070-123 45 67",
    }
    requests = [workflow.file(portal, customer, "fault_report", payload, None) for _ in range(total)]

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BBPORTAL_")},
        "BBPORTAL_DATABASE_URL": settings.resolved_database_url,
        "BBPORTAL_REDIS_URL": REDIS_URL,
        "BBPORTAL_REDIS_NAMESPACE": namespace,
        "BBPORTAL_SECRET_KEY": secret,
        "BBPORTAL_DATA_DIR": str(folder),
        "BBPORTAL_SMTP_HOST": "127.0.0.1",
        "BBPORTAL_SMTP_PORT": str(smtp_port),
        "BBPORTAL_SMTP_SECURITY": "none",
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dramatiq",
            "core.worker.main",
            "--processes",
            "2",
            "--threads",
            "4",
            "--queues",
            "outbox",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    broker = RedisBroker(url=REDIS_URL, namespace=namespace, heartbeat_timeout=10_000, maintenance_chance=1_000_000)
    broker.declare_queue("outbox")
    stopping = threading.Event()

    def relay() -> None:
        while not stopping.is_set():
            relay_once(portal, broker)
            stopping.wait(0.5)

    relay_thread = threading.Thread(target=relay, daemon=True)
    relay_thread.start()
    try:
        # Receipts of the filing go out first; wait for them, then measure only status changes.
        deadline = time.time() + 300
        while arrivals.count() < total and time.time() < deadline:
            time.sleep(0.2)
        arrivals.at.clear()
        changed_at: dict[str, float] = {}
        for request in requests[: args.changes]:
            workflow.perform(portal, staff, request.id or 0, Action.TAKE)
            changed_at[request.number] = time.time()
            time.sleep(1 / args.rate)
        deadline = time.time() + 120
        while arrivals.count() < args.changes and time.time() < deadline:
            time.sleep(0.05)
        latencies = sorted(arrivals.at[n][0] - changed_at[n] for n in changed_at if n in arrivals.at)
        arrivals.at.clear()
        burst_start = time.time()
        for request in requests[args.changes :]:
            workflow.perform(portal, staff, request.id or 0, Action.TAKE)
        filed_by = time.time() - burst_start
        deadline = time.time() + 300
        while arrivals.count() < args.burst and time.time() < deadline:
            time.sleep(0.05)
        burst_seconds = time.time() - burst_start
        result = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": "PostgreSQL" if args.database_url else "SQLite",
            "workers": "2 dramatiq processes x 4 threads, Redis broker; relay every 0.5 s",
            "changes": args.changes,
            "delivered": len(latencies),
            "latency_p50_s": round(statistics.median(latencies), 3),
            "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
            "latency_max_s": round(latencies[-1], 3),
            "burst": args.burst,
            "burst_delivered": arrivals.count(),
            "burst_changes_made_in_s": round(filed_by, 2),
            "mails_per_second": round(arrivals.count() / burst_seconds, 1),
        }
        print(json.dumps(result, indent=2))
    finally:
        stopping.set()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        controller.stop()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
        database.dispose()


if __name__ == "__main__":
    main()
