"""Benchmark the production topology: PostgreSQL (or SQLite), Redis, 2 web processes, 2 workers, the relay.

    .venv/bin/python bench/topology.py --n 1000000 --runs 3            # a new PostgreSQL database, dropped after
    .venv/bin/python bench/topology.py --n 20000 --runs 1 --sustain-s 20   # a quick look
    .venv/bin/python bench/topology.py --sqlite --n 100000             # the same topology on one SQLite file

What it starts, as deploy/Procfile does (each its own process group, stopped at the end also on errors):

* ``bbportal serve --workers 2`` (two uvicorn web processes, no embedded worker: ``BBPORTAL_REDIS_URL`` is set);
* ``dramatiq core.worker.main --processes 2 --threads 4`` on a fresh Redis namespace of the machine's Redis;
* ``bbportal relay`` (outbox → Redis, scheduled requests, reminders);
* an SMTP sink (aiosmtpd) in this process that the portal's SMTP settings point at; it records every mail's
  arrival time and its ``X-BBPortal-Request``;
* bench/ceiling_app.py with two web processes on the same database: the same-run ceiling.

The data: a new database (``bbbench_<random>`` on 127.0.0.1:5432 unless ``--database-url``) loaded with
``--n`` requests by bench/load_requests.py (COPY on PostgreSQL), with the demo customer following every
request and wanting every mail (``notify = all``), so that each filing owes exactly one receipt.

Per run, with ``--clients`` concurrent clients (bench/loadgen.py):

1. **burst**: the ceiling takes ``3 × --posts`` POSTs, then the portal ``--posts`` filings; the web CPU per
   filing is the web process tree's; the run then waits until every one of those filings' receipts has
   arrived at the sink and charges the workers' and the relay's CPU over the whole time to the filings
   (``background_cpu_ms_per_filing``, and its ratio to the web's);
2. **sustained**: filings for ``--sustain-s`` seconds; the rate counts only filings whose receipt arrived, over
   the time from the first POST to the last receipt — the rate at which the topology files *and* mails;
3. **pages**: ``--gets`` × the staff queue, the customer's list, four searches (a common word as the customer,
   a word, part of a phone number and a word found nowhere as staff) and one request page; p50/p95/p99 (target:
   pages < 50 ms, searches < 100 ms). The filings of 1. and 2. vary like the loaded requests (``fault_variants``);
4. **status change → mail**: ``--changes`` staff "take" actions (through the workflow, committed in this
   process like a web process would) at ``--rate`` per second; the time from commit to arrival at the sink;
5. the resident memory (VmRSS, VmHWM) of every process of the topology.

The summary (medians over the runs) is compared with the scale issue's targets, printed and written to
bench/results/topology-<timestamp>.json. Figures go to docs/benchmarks.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
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

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for path in (str(ROOT), str(BENCH)):
    if path not in sys.path:
        sys.path.insert(0, path)
import proctree  # noqa: E402  (bench/ is not a package)
import run as embedded  # noqa: E402

VENV_BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("BBPORTAL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_URL = os.environ.get("BBPORTAL_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TARGETS = {
    "burst_pct_of_ceiling_min": 70,
    "sustained_pct_of_ceiling_min": 50,
    "background_x_web_cpu_max": 0.7,
    "page_p95_ms_max": 50,
    "search_p95_ms_max": 100,
    "mail_p95_s_max": 2.0,
}
NUMBER = re.compile(r"BB-(\d+)")


class Sink:
    """The SMTP server the portal sends to: when each request's mails arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[int, list[float]] = {}
        self.total = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        found = NUMBER.search(str(message.get("X-BBPortal-Request", "")))
        with self.lock:
            self.total += 1
            if found:
                self.arrivals.setdefault(int(found.group(1)), []).append(time.time())
        return "250 OK"

    def first_arrivals(self, ids: range) -> list[float]:
        """The first mail's arrival of each request in ``ids`` that has one."""
        with self.lock:
            return [self.arrivals[i][0] for i in ids if i in self.arrivals]

    def wait_for(self, ids: range, timeout: float) -> tuple[int, float | None]:
        """Wait until every request in ``ids`` has a mail; (how many have one, the last first arrival)."""
        deadline = time.time() + timeout
        while True:
            arrived = self.first_arrivals(ids)
            if len(arrived) >= len(ids) or time.time() > deadline:
                return len(arrived), (max(arrived) if arrived else None)
            time.sleep(0.05)


class Process:
    """One line of the topology as a child process in its own group; ``stop`` ends the group."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        self.log.close()


def wait_http(url: str, expected: int, process: Process, timeout: float = 120) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        process.check()
        try:
            if httpx.get(url, timeout=2).status_code == expected:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer {expected} within {timeout} s:\n{process.log_tail()}")


def create_database(name: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def prepare(database_url: str, secret_key: str) -> dict[str, Any]:
    """The customer's API token, system and one of its requests; every mail wanted, every request followed."""
    from sqlalchemy import text
    from sqlmodel import col, select

    from core.accounts import auth
    from core.demo import DEMO_LOGINS
    from core.models import Request, System, User
    from core.platform.clock import SystemClock
    from core.platform.db import create_database as open_database

    database = open_database(database_url)
    try:
        with database.writing() as session:
            customer = session.exec(select(User).where(User.email == DEMO_LOGINS[0].email)).one()
            customer.notify = "all"
            token = auth.create_api_token(session, customer, "benchmark", secret_key=secret_key, clock=SystemClock())
            system = session.exec(
                select(System).where(System.organisation_id == customer.organisation_id).order_by(col(System.id))
            ).first()
            request = session.exec(
                select(Request)
                .where(Request.organisation_id == customer.organisation_id)
                .order_by(col(Request.id).desc())
            ).first()
            assert system is not None and request is not None
            result = {"api_token": token, "system_id": system.id, "request_id": request.id, "number": request.number}
        with database.read_engine.connect() as connection:
            result["max_id"] = int(connection.execute(text("SELECT max(id) FROM request")).scalar_one())
    finally:
        database.dispose()
    return result


def fault_variants() -> list[dict[str, str]]:
    """What the benchmark files: the loaded requests' mix of places, faults and contacts (bench/load_requests.py),
    so that the newest requests read like the older ones. One text for every filing would leave the searches'
    words out of the newest tens of thousands of requests after a few runs — no installation looks like that, and
    the searches would measure that hole (session 12 measured it: docs/benchmarks.md) rather than the search."""
    import itertools
    import random

    from bench.load_requests import CONTACTS, DESCRIPTIONS, LOCATIONS

    variants = [
        {"location": location, "description": description, "contact_name": name, "contact_phone": phone}
        for location, description, (name, phone) in itertools.product(LOCATIONS, DESCRIPTIONS, CONTACTS)
    ]
    random.Random(2026).shuffle(variants)
    return variants


def max_request_id(database: Any) -> int:
    from sqlalchemy import text

    with database.read_engine.connect() as connection:
        return int(connection.execute(text("SELECT coalesce(max(id), 0) FROM request")).scalar_one())


def cpu(processes: list[Process]) -> float:
    return sum(proctree.cpu_s(p.pid) for p in processes)


def memory(processes: list[Process]) -> dict[str, dict[str, float]]:
    """VmRSS/VmHWM in MB of every process of each line's tree (uvicorn's supervisor and its web processes, the
    dramatiq parent and its worker processes, the relay), by line, position in the tree and command."""
    found: dict[str, dict[str, float]] = {}
    for line in processes:
        for index, pid in enumerate(proctree.tree(line.pid)):
            values: dict[str, float] = {}
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
                with open(f"/proc/{pid}/status") as status:
                    for row in status:
                        key, _, rest = row.partition(":")
                        if key in ("VmRSS", "VmHWM"):
                            values[key] = round(int(rest.split()[0]) * 1024 / 1e6, 1)
            except OSError:
                continue
            found[f"{line.name}[{index}] {command}"] = {"rss_mb": values["VmRSS"], "peak_rss_mb": values["VmHWM"]}
    return found


def status_changes(
    database_url: str, settings_env: dict[str, str], sink: Sink, count: int, rate: float
) -> dict[str, Any]:
    """``count`` staff "take" actions at ``rate`` per second on pending requests; commit → mail arrival."""
    from sqlmodel import col, select

    from core.demo import DEMO_LOGINS
    from core.models import Request, User
    from core.platform.settings import Settings
    from core.portal import build_portal
    from core.requests.lifecycle import Action
    from core.workflow import actions as workflow

    for key, value in settings_env.items():
        os.environ[key] = value
    portal = build_portal(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        with portal.database.reading() as session:
            staff = session.exec(select(User).where(User.email == DEMO_LOGINS[2].email)).one()
            customer = session.exec(select(User).where(User.email == DEMO_LOGINS[0].email)).one()
            pending = list(
                session.exec(
                    select(Request.id)
                    .where(Request.status == "pending", Request.requester_id == customer.id)
                    .order_by(col(Request.id).desc())
                    .limit(count)
                )
            )
        changed: dict[int, float] = {}
        for request_id in pending:
            assert request_id is not None
            with sink.lock:
                sink.arrivals.pop(request_id, None)  # only this change's mail counts
            workflow.perform(portal, staff, request_id, Action.TAKE)
            changed[request_id] = time.time()
            time.sleep(1 / rate)
        deadline = time.time() + 60
        while time.time() < deadline:
            with sink.lock:
                if all(i in sink.arrivals for i in changed):
                    break
            time.sleep(0.05)
        with sink.lock:
            latencies = sorted(sink.arrivals[i][0] - at for i, at in changed.items() if i in sink.arrivals)
    finally:
        portal.database.dispose()
    return {
        "changes": len(changed),
        "delivered": len(latencies),
        "p50_s": round(embedded.median(latencies) or 0, 3) if latencies else None,
        "p95_s": round(latencies[max(0, int(0.95 * len(latencies)) - 1)], 3) if latencies else None,
        "max_s": round(latencies[-1], 3) if latencies else None,
    }


def one_run(
    number: int,
    args: argparse.Namespace,
    job: dict[str, Any],
    ceiling_job: dict[str, Any],
    database: Any,
    sink: Sink,
    web: Process,
    background: list[Process],
    settings_env: dict[str, str],
) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    ceiling = embedded.run_loadgen(ceiling_job)["file"]
    measured["ceiling"] = ceiling

    # 1. burst, then every receipt
    first = max_request_id(database) + 1
    bg_before = cpu(background)
    started = time.time()
    burst = embedded.run_loadgen({**job, "phases": ["file"]})["file"]
    filed = range(first, max_request_id(database) + 1)  # the measured POSTs and the clients' warm-up
    delivered, last = sink.wait_for(filed, timeout=600)
    bg_cpu = cpu(background) - bg_before
    measured["burst"] = {
        **burst,
        "filings": len(filed),
        "receipts": delivered,
        "all_mailed_s": round(last - started, 2) if last else None,
        "background_cpu_ms_per_filing": round(bg_cpu * 1000 / len(filed), 2) if filed else None,
    }
    measured["burst_pct_of_ceiling"] = embedded.ratio(burst["per_s"], ceiling["per_s"], 100)
    measured["background_x_web_cpu"] = embedded.ratio(
        measured["burst"]["background_cpu_ms_per_filing"], burst["server_cpu_ms_per_request"]
    )

    # 2. sustained: filings and their receipts within the run
    first = max_request_id(database) + 1
    started = time.time()
    sustain = embedded.run_loadgen({**job, "phases": ["sustain"], "sustain_s": args.sustain_s})["sustain"]
    filed = range(first, max_request_id(database) + 1)
    delivered, last = sink.wait_for(filed, timeout=600)
    span = (last - started) if last else None
    per_s = round(delivered / span, 1) if span else None
    measured["sustained"] = {
        **sustain,
        "filings": len(filed),
        "receipts": delivered,
        "filed_and_mailed_s": round(span, 2) if span else None,
        "filed_and_mailed_per_s": per_s,
    }
    measured["sustained_pct_of_ceiling"] = embedded.ratio(per_s, ceiling["per_s"], 100)

    # 3. pages
    measured.update(embedded.run_loadgen({**job, "phases": ["pages"]}))

    # 4. status change → mail
    measured["mail"] = status_changes(job["database_url"], settings_env, sink, args.changes, args.rate)
    measured["memory"] = memory([web, *background])
    measured["loadavg"] = os.getloadavg()
    pages = " ".join(f"{p['name']} p95 {measured[p['name']]['p95_ms']} ms" for p in job["pages"])
    print(
        f"run {number}: ceiling {ceiling['per_s']}/s at {ceiling['server_cpu_ms_per_request']} ms CPU; "
        f"burst {burst['per_s']}/s = {measured['burst_pct_of_ceiling']} % at {burst['server_cpu_ms_per_request']}"
        f" ms web CPU + {measured['burst']['background_cpu_ms_per_filing']} ms background CPU per filing "
        f"(× {measured['background_x_web_cpu']}); sustained {per_s}/s filed and mailed = "
        f"{measured['sustained_pct_of_ceiling']} %; {pages}; mail p95 {measured['mail']['p95_s']} s; "
        f"load {measured['loadavg'][0]:.2f}",
        file=sys.stderr,
        flush=True,
    )
    return measured


def limit(page_name: str) -> float:
    """The p95 target of a page: searches (issue 18) < 100 ms, the other pages (issue 17) < 50 ms."""
    return TARGETS["search_p95_ms_max"] if page_name.startswith("search") else TARGETS["page_p95_ms_max"]


def summarise(runs: list[dict[str, Any]], page_names: list[str]) -> dict[str, Any]:
    median = embedded.median
    figures: dict[str, Any] = {
        "ceiling_per_s": median([r["ceiling"]["per_s"] for r in runs]),
        "ceiling_cpu_ms_per_request": median([r["ceiling"]["server_cpu_ms_per_request"] for r in runs]),
        "burst_per_s": median([r["burst"]["per_s"] for r in runs]),
        "burst_pct_of_ceiling": median([r["burst_pct_of_ceiling"] for r in runs]),
        "web_cpu_ms_per_filing": median([r["burst"]["server_cpu_ms_per_request"] for r in runs]),
        "background_cpu_ms_per_filing": median([r["burst"]["background_cpu_ms_per_filing"] for r in runs]),
        "background_x_web_cpu": median([r["background_x_web_cpu"] for r in runs]),
        "sustained_per_s": median([r["sustained"]["filed_and_mailed_per_s"] for r in runs]),
        "sustained_pct_of_ceiling": median([r["sustained_pct_of_ceiling"] for r in runs]),
        "mail_p95_s": median([r["mail"]["p95_s"] for r in runs]),
    }
    for name in page_names:
        for key in ("p50_ms", "p95_ms", "p99_ms", "server_cpu_ms_per_request"):
            figures[f"{name}_{key}"] = median([r[name][key] for r in runs])
    receipts_ok = all(r[p]["receipts"] == r[p]["filings"] for r in runs for p in ("burst", "sustained"))
    errors = sum(r[p]["errors"] for r in runs for p in ("burst", "sustained", "ceiling", *page_names))
    verdict = {
        "burst >= 70 % of the ceiling": (figures["burst_pct_of_ceiling"] or 0) >= TARGETS["burst_pct_of_ceiling_min"],
        "sustained >= 50 % of the ceiling": (figures["sustained_pct_of_ceiling"] or 0)
        >= TARGETS["sustained_pct_of_ceiling_min"],
        "background CPU <= 0.7 x web CPU": (figures["background_x_web_cpu"] or 99)
        <= TARGETS["background_x_web_cpu_max"],
        **{f"{name} p95 < {limit(name)} ms": (figures[f"{name}_p95_ms"] or 1e9) < limit(name) for name in page_names},
        "status change -> mail p95 < 2 s": (figures["mail_p95_s"] or 1e9) < TARGETS["mail_p95_s_max"],
        "every receipt arrived": receipts_ok,
        "no errors": errors == 0,
    }
    return {"median": figures, "targets_met": verdict}


def record(folder: Path, lines: list[Process]) -> list[subprocess.Popen[bytes]]:
    """py-spy on each line's process tree (``--subprocesses``), one speedscope file per line."""
    folder.mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [
                embedded.py_spy_binary(),
                "record",
                "--pid",
                str(line.pid),
                "--subprocesses",
                "--threads",
                "--gil",  # only the thread holding the GIL: where Python spends CPU, not where it waits
                "--nonblocking",
                "--format",
                "speedscope",
                "--output",
                str(folder.resolve() / f"{line.name}.json"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for line in lines
    ]
    time.sleep(1)
    return spies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the production topology (see the module docstring).")
    parser.add_argument("--n", type=int, default=1_000_000, help="requests loaded before measuring")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--posts", type=int, default=1500, help="filings of the burst per run")
    parser.add_argument("--gets", type=int, default=400, help="GETs per page per run")
    parser.add_argument("--sustain-s", type=float, default=60.0, help="seconds of sustained filing per run")
    parser.add_argument("--changes", type=int, default=100, help="status changes timed to their mail per run")
    parser.add_argument("--rate", type=float, default=10.0, help="status changes per second")
    parser.add_argument("--sqlite", action="store_true", help="one SQLite file instead of PostgreSQL")
    parser.add_argument("--database-url", help="an already loaded database (with --reuse) or an empty one")
    parser.add_argument("--reuse", action="store_true", help="--database-url is loaded already: do not load")
    parser.add_argument("--keep", action="store_true", help="keep the database and the folder")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="FOLDER",
        help="record the web, worker and relay process trees with py-spy --gil during the first run (speedscope JSON)",
    )
    args = parser.parse_args(argv)

    def on_sigterm(_signum: int, _frame: Any) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_sigterm)
    from aiosmtpd.controller import Controller

    from core.demo import DEMO_LOGINS
    from core.platform.db import create_database as open_database

    folder = Path(tempfile.mkdtemp(prefix="bbportal-topology-"))
    created: str | None = None
    data_dir = folder / "data"
    if args.sqlite:
        database_url = f"sqlite:///{data_dir / 'bbportal.db'}"
    elif args.database_url:
        database_url = args.database_url
    else:
        created = f"bbbench_{uuid.uuid4().hex[:8]}"
        database_url = create_database(created)
    namespace = f"bbbench-{uuid.uuid4().hex[:8]}"
    secret_key = secrets.token_urlsafe(48)
    processes: list[Process] = []
    controller: Any = None
    database: Any = None
    result: dict[str, Any] = {
        "machine": embedded.machine(),
        "config": {
            **{k: v for k, v in vars(args).items() if k != "database_url"},
            "database": "sqlite" if args.sqlite else "postgresql",
            "topology": "bbportal serve --workers 2; dramatiq --processes 2 --threads 4; bbportal relay; "
            "aiosmtpd sink; Redis broker",
        },
    }
    try:
        if not args.reuse:
            from bench import load_requests

            result["load"] = load_requests.load(
                data_dir, args.n, with_outbox=True, database_url="" if args.sqlite else database_url
            )
        prepared = prepare(database_url, secret_key)
        sink = Sink()
        smtp_port = embedded.free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        web_port = embedded.free_port()
        settings_env = {
            "BBPORTAL_DATABASE_URL": database_url,
            "BBPORTAL_DATA_DIR": str(data_dir),
            "BBPORTAL_SECRET_KEY": secret_key,
            "BBPORTAL_BASE_URL": f"http://127.0.0.1:{web_port}",
            "BBPORTAL_REDIS_URL": REDIS_URL,
            "BBPORTAL_REDIS_NAMESPACE": namespace,
            "BBPORTAL_SMTP_HOST": "127.0.0.1",
            "BBPORTAL_SMTP_PORT": str(smtp_port),
            "BBPORTAL_SMTP_SECURITY": "none",
            **{
                f"BBPORTAL_RATE_LIMIT_{name}": "1000000000"
                for name in ("API_PER_USER", "API_PER_ADDRESS", "FILINGS_PER_USER")
            },
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("BBPORTAL_")}
        env.update(settings_env, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
        bbportal = str(VENV_BIN / "bbportal")
        web = Process("web", [bbportal, "serve", "--port", str(web_port), "--workers", "2", "--no-demo"], env, folder)
        processes.append(web)
        worker = Process(
            "worker",
            [str(VENV_BIN / "dramatiq"), "core.worker.main", "--processes", "2", "--threads", "4"],
            env,
            folder,
        )
        relay = Process("relay", [bbportal, "relay"], env, folder)
        processes += [worker, relay]
        ceiling_port = embedded.free_port()
        ceiling = Process(
            "ceiling",
            [
                sys.executable,
                str(BENCH / "ceiling_app.py"),
                "--port",
                str(ceiling_port),
                "--db",
                str(folder / "ceiling.db") if args.sqlite else database_url,
                "--workers",
                "2",
            ],
            {k: v for k, v in env.items() if not k.startswith("BBPORTAL_")},
            folder,
        )
        processes.append(ceiling)
        base_url = settings_env["BBPORTAL_BASE_URL"]
        result["startup_s"] = round(wait_http(f"{base_url}/login", 200, web), 2)
        wait_http(f"http://127.0.0.1:{ceiling_port}/api/v1/requests", 405, ceiling)
        staff_cookies = embedded.login(base_url, DEMO_LOGINS[2].email, DEMO_LOGINS[2].password, "/staff/queue")
        customer_cookies = embedded.login(base_url, DEMO_LOGINS[0].email, DEMO_LOGINS[0].password, "/requests")
        page_specs = [
            {"name": "queue", "path": "/staff/queue", "cookies": "staff", "contains": 'class="list requests'},
            {"name": "requests", "path": "/requests", "cookies": "customer", "contains": 'class="list requests'},
            # issue 18's search: a common word for the customer (their organisation only), a rarer one and part
            # of a phone number for staff (everything)
            {"name": "search_word", "path": "/search?q=l%C3%A5set", "cookies": "customer", "contains": "<mark>"},
            {"name": "search_staff", "path": "/search?q=porttelefonen", "cookies": "staff", "contains": "<mark>"},
            {"name": "search_digits", "path": "/search?q=5551234", "cookies": "staff", "contains": 'role="status"'},
            # and a word in no request: the newest requests read in full, then the indexes (the slowest kind)
            {"name": "search_rare", "path": "/search?q=f%C3%B6nsterbeslaget", "cookies": "staff", "contains": "Inget"},
            {
                "name": "request_page",
                "path": f"/requests/{prepared['request_id']}",
                "cookies": "customer",
                "contains": prepared["number"],
            },
        ]
        job = {
            "base_url": base_url,
            "server_pid": web.pid,
            "clients": args.clients,
            "posts": args.posts,
            "gets": args.gets,
            "api_token": prepared["api_token"],
            "staff_cookies": staff_cookies,
            "customer_cookies": customer_cookies,
            "fault_report": {**embedded.FAULT, "system_id": prepared["system_id"]},
            "fault_variants": fault_variants(),
            "pages": page_specs,
            "database_url": database_url,
        }
        ceiling_job = {
            **job,
            "base_url": f"http://127.0.0.1:{ceiling_port}",
            "server_pid": ceiling.pid,
            "posts": 3 * args.posts,
            "phases": ["file"],
        }
        database = open_database(database_url)
        result["memory_idle"] = memory(processes[:3])
        runs = []
        for number in range(1, args.runs + 1):
            for line in processes:
                line.check()
            spies = record(args.py_spy, [web, worker, relay]) if number == 1 and args.py_spy else []
            try:
                runs.append(one_run(number, args, job, ceiling_job, database, sink, web, [worker, relay], settings_env))
            finally:
                for spy in spies:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=120)
        result["runs"] = runs
        result.update(summarise(runs, [p["name"] for p in page_specs]))
        result["memory"] = memory(processes[:3])
        result["mails_at_sink"] = sink.total
    finally:
        for line in reversed(processes):
            line.stop()
        if controller is not None:
            controller.stop()
        if database is not None:
            database.dispose()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
        if "runs" not in result:
            for line in processes:
                print(f"--- {line.name}\n{line.log_tail()}", file=sys.stderr)
        if not args.keep:
            if created:
                drop_database(created)
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder} and {database_url}", file=sys.stderr)

    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    path = results_dir / f"topology-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    text = json.dumps(result, indent=2, ensure_ascii=False)
    path.write_text(text + "\n")
    print(json.dumps({"median": result["median"], "targets_met": result["targets_met"]}, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 0 if all(result["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
