"""One benchmark run of the embedded portal: filing throughput, page latency and memory at N requests.

    .venv/bin/python bench/run.py                      # N = 100,000, 3 runs, 8 clients
    .venv/bin/python bench/run.py --n 20000 --runs 1   # a quick look

What it does:

1. loads N requests into a fresh data folder (bench/load_requests.py: migrate, demo data, bulk insert);
2. creates a personal API token for the demo customer (core.accounts.auth.create_api_token, straight on the DB);
3. starts the server as ``bbportal serve --port <free port> --no-demo`` (uvicorn, one process, embedded
   worker on as by default) with BBPORTAL_DATA_DIR, BBPORTAL_SECRET_KEY and rate-limit budgets no run
   reaches set, and no other BBPORTAL_*;
4. logs the demo staff user and the demo customer in through the login form (session cookies);
5. per run, starts bench/loadgen.py as a separate process: filing throughput (POST /api/v1/requests);
   waits until the embedded worker has worked off the outbox rows the filings left (notifications);
   then starts it again for the latency of GET /staff/queue and GET /requests; then reads the server's
   VmRSS / VmHWM;
6. unless ``--no-ceiling``: starts bench/ceiling_app.py (one POST route, one INSERT, served like the portal) as
   its own process and, in each run right before the portal's filing phase, drives it with the same load
   generator and clients (``--ceiling-posts`` POSTs, by default 3 × ``--posts`` so that the phase lasts about as
   long as the portal's); reports filing as a percentage of this same-run ceiling and the server CPU time per
   request of both (the whole process tree, bench/proctree.py);
7. prints a JSON summary (medians over the runs, compared with the targets) and writes it to
   bench/results/<timestamp>.json. The servers are stopped at the end, also on errors or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
import proctree  # noqa: E402  (bench/ is not a package)

VENV_BIN = Path(sys.executable).parent
CSRF = re.compile(r'name="_csrf" value="([^"]*)"')
TARGETS = {
    "file_per_s_min": 300,
    "queue_p95_ms_max": 50,
    "requests_p95_ms_max": 50,
    "rss_mb_max": 150,
}
FAULT = {
    "location": "Huvudentrén, Storgatan 1",
    "description": "Låset i entrén öppnar inte alltid.",
    "urgency": "normal",
    "contact_name": "Anna Kund",
    "contact_phone": "070-123 45 67",
}


def py_spy_binary() -> str:
    """py-spy from the venv, else from PATH (``pip install py-spy``)."""
    found = VENV_BIN / "py-spy"
    return str(found) if found.exists() else (shutil.which("py-spy") or "py-spy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of the largest web process, and of the background process, in MB."""
    return proctree.memory_mb(pid)


def machine() -> dict[str, Any]:
    def run(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    cpu_model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": run(["nproc"]),
        "cpu": cpu_model,
        "free_h": run(["free", "-h"]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
        "code": code(),
    }


def code() -> dict[str, Any]:
    """Which tree is measured: the folder this script runs from, its commit, and where ``core`` is imported from."""

    def git(*command: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(ROOT), *command], capture_output=True, text=True, check=False
            ).stdout.strip()
        except OSError:
            return ""

    import core

    return {
        "root": str(ROOT),
        "commit": git("rev-parse", "HEAD"),
        "dirty_outside_bench": bool(git("status", "--porcelain", "--", ".", ":!bench", ":!docs")),
        "core": str(Path(core.__file__).resolve().parent),
    }


def prepare(data_dir: Path, n: int, secret_key: str, with_outbox: bool, reuse: bool) -> dict[str, Any]:
    """Load the data (unless reusing a loaded folder), create the customer's API token, find its system."""
    from sqlmodel import col, select

    from bench import load_requests
    from core.accounts import auth
    from core.demo import DEMO_LOGINS
    from core.models import System, User
    from core.platform.clock import SystemClock
    from core.platform.db import create_database

    load_summary: dict[str, Any] | None = None
    if not (reuse and (data_dir / "bbportal.db").exists()):
        load_summary = load_requests.load(data_dir, n, with_outbox=with_outbox)
    database = create_database(f"sqlite:///{data_dir / 'bbportal.db'}")
    try:
        with database.writing() as session:
            customer = session.exec(select(User).where(User.email == DEMO_LOGINS[0].email)).one()
            token = auth.create_api_token(session, customer, "benchmark", secret_key=secret_key, clock=SystemClock())
            system = session.exec(
                select(System).where(System.organisation_id == customer.organisation_id).order_by(col(System.id))
            ).first()
            assert system is not None
            system_id = system.id
    finally:
        database.dispose()
    return {"load": load_summary, "api_token": token, "system_id": system_id}


def count_requests(data_dir: Path) -> dict[str, int]:
    import sqlite3

    connection = sqlite3.connect(data_dir / "bbportal.db")
    try:
        return {
            "requests": connection.execute("SELECT count(*) FROM request").fetchone()[0],
            "pending": connection.execute("SELECT count(*) FROM request WHERE status='pending'").fetchone()[0],
            "outbox": {
                f"{topic}/{status}": count
                for topic, status, count in connection.execute(
                    "SELECT topic, status, count(*) FROM outbox GROUP BY topic, status"
                )
            },
            "mail_files": sum(1 for _ in (data_dir / "mail").rglob("*.eml")) if (data_dir / "mail").is_dir() else 0,
        }
    finally:
        connection.close()


def server_cpu_s(pid: int) -> float:
    return proctree.cpu_s(pid)


def wait_drained(data_dir: Path, pid: int | None = None, timeout: float = 300) -> dict[str, Any]:
    """Wait until the outbox has no pending rows (the embedded worker caught up); how long it took and
    how much CPU the server spent meanwhile."""
    import sqlite3

    cpu_before = server_cpu_s(pid) if pid else 0.0
    started = time.perf_counter()
    connection = sqlite3.connect(f"file:{data_dir / 'bbportal.db'}?mode=ro", uri=True, timeout=30)
    try:
        while True:
            pending = connection.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
            waited = time.perf_counter() - started
            if pending == 0 or waited > timeout:
                cpu = server_cpu_s(pid) - cpu_before if pid else None
                return {
                    "seconds": round(waited, 1),
                    "pending_left": pending,
                    "server_cpu_s": round(cpu, 1) if cpu is not None else None,
                }
            time.sleep(0.25)
    finally:
        connection.close()


class Server:
    """``bbportal serve`` as a child process; ``stop`` always ends it."""

    ready_path, ready_status = "/login", 200

    def __init__(self, data_dir: Path, secret_key: str, log_path: Path, workers: int | None = None) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BBPORTAL_")}
        env.update(BBPORTAL_DATA_DIR=str(data_dir), BBPORTAL_SECRET_KEY=secret_key, PYTHONUNBUFFERED="1")
        # A few load users file thousands of requests a minute: the rate limits stay on (their cost is part of
        # what is measured) with budgets no run reaches.
        budgets = ("API_PER_USER", "API_PER_ADDRESS", "FILINGS_PER_USER")
        env.update({f"BBPORTAL_RATE_LIMIT_{name}": "1000000000" for name in budgets})
        # cwd = the data folder, so that no stray .env file changes the settings.
        self.start(
            [
                str(VENV_BIN / "bbportal"),
                "serve",
                "--port",
                str(self.port),
                "--no-demo",
                *(["--workers", str(workers)] if workers else []),
            ],
            data_dir,
            env,
            log_path,
        )

    def start(self, command: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> None:
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 90) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}{self.ready_path}", timeout=2).status_code == self.ready_status:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.log.close()


class CeilingServer(Server):
    """bench/ceiling_app.py as a child process, with as many web processes as the portal (``--workers``)."""

    ready_path, ready_status = "/api/v1/requests", 405  # its one route only takes POST

    def __init__(self, db_path: Path, log_path: Path, workers: int | None = None) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BBPORTAL_")}
        env.update(PYTHONUNBUFFERED="1")
        self.start(
            [
                sys.executable,
                str(BENCH / "ceiling_app.py"),
                "--port",
                str(self.port),
                "--db",
                str(db_path),
                *(["--workers", str(workers)] if workers else []),
            ],
            db_path.parent,
            env,
            log_path,
        )


def login(base_url: str, email: str, password: str, check_path: str) -> dict[str, str]:
    """Log in like a browser: GET /login (bb_anon cookie + _csrf), POST the form; returns the cookies."""
    with httpx.Client(base_url=base_url, timeout=30, follow_redirects=False) as client:
        form = client.get("/login")
        form.raise_for_status()
        found = CSRF.search(form.text)
        if not found:
            raise RuntimeError("no _csrf field on /login")
        response = client.post(
            "/login", data={"email": email, "password": password, "_csrf": found.group(1), "next": "/"}
        )
        if response.status_code not in (302, 303) or "bb_session" not in client.cookies:
            raise RuntimeError(f"log-in as {email} failed: {response.status_code}")
        check = client.get(check_path)
        if check.status_code != 200:
            raise RuntimeError(f"{email} cannot open {check_path}: {check.status_code}")
        return dict(client.cookies)


def run_loadgen(job: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(BENCH / "loadgen.py")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the load generator failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def ratio(numerator: float | None, denominator: float | None, scale: float = 1) -> float | None:
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float) or not denominator:
        return None
    return round(numerator * scale / denominator, 2)


def median(values: list[Any]) -> Any:
    numbers = [v for v in values if isinstance(v, int | float)]
    return round(statistics.median(numbers), 2) if numbers else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for phase in ("file", "queue", "requests"):
        for key in (
            "per_s",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "server_cpu_ms_per_request",
            "server_cpu_share",
            "loadgen_cpu_share",
            "errors",
        ):
            figures[f"{phase}_{key}"] = median([r[phase].get(key) for r in runs])
    figures["outbox_drain_s"] = median([r["outbox_drain"]["seconds"] for r in runs])
    figures["outbox_drain_server_cpu_ms_per_filing"] = median(
        [r["outbox_drain"].get("server_cpu_ms_per_filing") for r in runs]
    )
    if all("ceiling" in r for r in runs):
        for key in (
            "per_s",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "wall_s",
            "server_cpu_ms_per_request",
            "server_cpu_share",
            "loadgen_cpu_share",
            "errors",
        ):
            figures[f"ceiling_file_{key}"] = median([r["ceiling"].get(key) for r in runs])
        # Ratios run by run (the two phases minutes apart), then their median.
        figures["file_pct_of_ceiling"] = median([r["file_pct_of_ceiling"] for r in runs])
        figures["file_cpu_per_request_x_ceiling"] = median([r["file_cpu_per_request_x_ceiling"] for r in runs])
    figures["rss_mb"] = max(r["memory"]["rss_mb"] for r in runs)  # VmRSS after each run: the largest
    figures["peak_rss_mb"] = max(r["memory"]["peak_rss_mb"] for r in runs)  # VmHWM: the high-water mark
    verdict = {
        "file_per_s >= 300": figures["file_per_s"] is not None and figures["file_per_s"] >= TARGETS["file_per_s_min"],
        "queue_p95_ms < 50": figures["queue_p95_ms"] is not None
        and figures["queue_p95_ms"] < TARGETS["queue_p95_ms_max"],
        "requests_p95_ms < 50": figures["requests_p95_ms"] is not None
        and figures["requests_p95_ms"] < TARGETS["requests_p95_ms_max"],
        "rss_mb < 150": figures["rss_mb"] < TARGETS["rss_mb_max"],
        "peak_rss_mb < 150": figures["peak_rss_mb"] < TARGETS["rss_mb_max"],
        "no errors": all(r[p]["errors"] == 0 for r in runs for p in ("file", "queue", "requests", "ceiling") if p in r),
    }
    return {"median": figures, "targets_met": verdict}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the embedded portal (see the module docstring).")
    parser.add_argument("--n", type=int, default=100_000, help="requests loaded before measuring")
    parser.add_argument("--runs", type=int, default=3, help="measurement runs (the summary is their median)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--posts", type=int, default=3000, help="POST /api/v1/requests per run")
    parser.add_argument("--gets", type=int, default=1000, help="GETs per page per run")
    parser.add_argument("--data-dir", type=Path, help="data folder (default: a new temporary one, removed after)")
    parser.add_argument("--reuse", action="store_true", help="use an already loaded --data-dir as it is")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument(
        "--outbox",
        action="store_true",
        help="also load the (handled) outbox rows the portal would have left for the N requests",
    )
    parser.add_argument("--workers", type=int, help="web processes for bbportal serve (default: its own default)")
    parser.add_argument(
        "--no-ceiling",
        dest="ceiling",
        action="store_false",
        help="skip the same-run ceiling (bench/ceiling_app.py) and the ratios",
    )
    parser.add_argument(
        "--ceiling-posts",
        type=int,
        help="POSTs to the ceiling app per run (default: 3 × --posts, about as long as the portal's)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="FILE",
        help="record the server with py-spy during the first run (speedscope JSON)",
    )
    args = parser.parse_args(argv)

    def on_sigterm(_signum: int, _frame: Any) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_sigterm)

    info = machine()
    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="bbportal-bench-"))).resolve()
    remove = not args.keep and args.data_dir is None
    secret_key = secrets.token_urlsafe(48)
    server: Server | None = None
    ceiling: CeilingServer | None = None
    spy: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {
        "machine": info,
        "config": {
            "n": args.n,
            "runs": args.runs,
            "clients": args.clients,
            "posts": args.posts,
            "gets": args.gets,
            "outbox": args.outbox,
            "data_dir": str(data_dir),
            "ceiling": args.ceiling,
            "ceiling_posts": (args.ceiling_posts or 3 * args.posts) if args.ceiling else None,
        },
    }
    try:
        prepared = prepare(data_dir, args.n, secret_key, args.outbox, args.reuse)
        result["load"] = prepared["load"]
        result["before"] = count_requests(data_dir)
        server = Server(data_dir, secret_key, data_dir / "server.log", args.workers)
        result["startup_s"] = round(server.wait_ready(), 2)
        result["memory_idle"] = memory_mb(server.pid)
        from core.demo import DEMO_LOGINS

        staff_cookies = login(server.base_url, DEMO_LOGINS[2].email, DEMO_LOGINS[2].password, "/staff/queue")
        customer_cookies = login(server.base_url, DEMO_LOGINS[0].email, DEMO_LOGINS[0].password, "/requests")
        job = {
            "base_url": server.base_url,
            "server_pid": server.pid,
            "clients": args.clients,
            "posts": args.posts,
            "gets": args.gets,
            "api_token": prepared["api_token"],
            "staff_cookies": staff_cookies,
            "customer_cookies": customer_cookies,
            "fault_report": {**FAULT, "system_id": prepared["system_id"]},
        }
        ceiling_job: dict[str, Any] | None = None
        if args.ceiling:
            ceiling = CeilingServer(data_dir / "ceiling.db", data_dir / "ceiling.log", args.workers)
            result["ceiling_startup_s"] = round(ceiling.wait_ready(), 2)
            ceiling_job = {
                **job,
                "base_url": ceiling.base_url,
                "server_pid": ceiling.pid,
                "posts": result["config"]["ceiling_posts"],
                "phases": ["file"],
            }
        runs = []
        for number in range(1, args.runs + 1):
            if number == 1 and args.py_spy:
                spy = subprocess.Popen(
                    [
                        py_spy_binary(),
                        "record",
                        "--pid",
                        str(server.pid),
                        "--format",
                        "speedscope",
                        "--output",
                        str(args.py_spy.resolve()),
                        "--threads",
                        "--subprocesses",
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1)
            ceiling_figures = run_loadgen(ceiling_job)["file"] if ceiling_job else None  # just before the portal's
            filed_before = count_requests(data_dir)["requests"]
            measured = run_loadgen({**job, "phases": ["file"]})
            filed = count_requests(data_dir)["requests"] - filed_before  # the measured POSTs + warm-up
            # The embedded worker sends the filings' notifications in the background; the pages are
            # measured once it has caught up, so that the two figures do not blur into each other.
            measured["outbox_drain"] = wait_drained(data_dir, server.pid)
            drain_cpu = measured["outbox_drain"]["server_cpu_s"]
            measured["outbox_drain"]["server_cpu_ms_per_filing"] = (
                round(drain_cpu * 1000 / filed, 2) if drain_cpu is not None and filed else None
            )
            measured["outbox_drain"]["filings"] = filed
            measured.update(run_loadgen({**job, "phases": ["queue", "requests"]}))
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
                spy = None
            measured["memory"] = memory_mb(server.pid)
            measured["loadavg"] = os.getloadavg()
            ceiling_note = ""
            if ceiling_figures is not None:
                measured["ceiling"] = ceiling_figures
                measured["file_pct_of_ceiling"] = ratio(measured["file"]["per_s"], ceiling_figures["per_s"], 100)
                measured["file_cpu_per_request_x_ceiling"] = ratio(
                    measured["file"]["server_cpu_ms_per_request"], ceiling_figures["server_cpu_ms_per_request"]
                )
                ceiling_note = (
                    f"ceiling {ceiling_figures['per_s']}/s at "
                    f"{ceiling_figures['server_cpu_ms_per_request']} ms CPU/request, filing = "
                    f"{measured['file_pct_of_ceiling']} % of it at "
                    f"{measured['file']['server_cpu_ms_per_request']} ms CPU/filing; "
                )
            runs.append(measured)
            print(
                f"run {number}: {ceiling_note}"
                f"filed {measured['file']['per_s']}/s (p95 {measured['file']['p95_ms']} ms), "
                f"outbox drained in {measured['outbox_drain']['seconds']} s, "
                f"queue p95 {measured['queue']['p95_ms']} ms, requests p95 {measured['requests']['p95_ms']} ms, "
                f"RSS {measured['memory']['rss_mb']} MB (peak {measured['memory']['peak_rss_mb']} MB), "
                f"load {measured['loadavg'][0]:.2f}",
                file=sys.stderr,
                flush=True,
            )
        result["runs"] = runs
        result["after"] = count_requests(data_dir)
        result.update(summarise(runs))
        result["targets"] = TARGETS
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait()
        if ceiling is not None:
            ceiling.stop()
        if server is not None:
            server.stop()
            if "runs" not in result:
                print(server.log_tail(), file=sys.stderr)
        info["loadavg_end"] = os.getloadavg()
        if remove:
            shutil.rmtree(data_dir, ignore_errors=True)

    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    path = results_dir / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    text = json.dumps(result, indent=2, ensure_ascii=False)
    path.write_text(text + "\n")
    print(text)
    figures = result.get("median", {})
    if figures.get("file_pct_of_ceiling") is not None:
        print(
            f"median: ceiling {figures['ceiling_file_per_s']}/s at "
            f"{figures['ceiling_file_server_cpu_ms_per_request']} ms CPU/request; filing {figures['file_per_s']}/s"
            f" = {figures['file_pct_of_ceiling']} % of the ceiling, "
            f"{figures['file_server_cpu_ms_per_request']} ms CPU/filing "
            f"({figures['file_cpu_per_request_x_ceiling']} × the ceiling's); queue p95 {figures['queue_p95_ms']} ms,"
            f" requests p95 {figures['requests_p95_ms']} ms",
            file=sys.stderr,
        )
    print(f"written to {path}", file=sys.stderr)
    return 0 if all(result["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
