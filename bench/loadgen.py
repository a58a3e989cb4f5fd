"""The load generator: a separate process that drives a running portal with C concurrent HTTP clients.

bench/run.py starts it with a JSON job on stdin and reads a JSON result from stdout. Each client is a
thread with its own keep-alive ``httpx.Client`` (like a browser tab or an API integration); the time of
every request is taken around the whole call, so it includes queueing in the server.

Phases, in order:

* ``file``: ``posts`` × ``POST /api/v1/requests`` (Bearer token), throughput = 201 answers / wall time; each
  filing is the job's ``fault_report`` with the next of its ``fault_variants`` (if any) laid over it;
* ``queue``: ``gets`` × ``GET /staff/queue`` with the staff session cookie;
* ``requests``: ``gets`` × ``GET /requests`` with the customer session cookie;
* ``sustain``: like ``file``, but for ``sustain_s`` seconds instead of a number of POSTs (bench/topology.py);
* ``pages``: for each ``{"name", "path", "cookies": "staff"|"customer", "contains"}`` of the job's ``pages``,
  ``gets`` × ``GET path``, each answer checked for 200 and the ``contains`` text (bench/topology.py).

Every answer is checked: the status code, and for pages that the request table has rows. The server's
CPU time (``/proc/<pid>/stat``) is read around each phase, giving server CPU milliseconds per request
and the share of one core the server used (``server_cpu_share``); ``loadgen_cpu_share`` is this process's.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proctree

ROW = re.compile(r"<tr[ >]")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server's processes so far (web processes and background work)."""
    return proctree.cpu_s(pid)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = math.ceil(q / 100 * len(sorted_values))
    return sorted_values[max(0, min(len(sorted_values), rank) - 1)]


def run_phase(
    name: str,
    total: int | None,
    clients: int,
    make_client: Callable[[], httpx.Client],
    call: Callable[[httpx.Client, int], tuple[bool, str]],
    pid: int,
    warmup: int,
    duration_s: float | None = None,
) -> dict[str, Any]:
    """``total`` calls spread over ``clients`` threads (or as many as fit in ``duration_s``); returns throughput,
    latencies and errors."""
    counter = iter(range(total)) if total is not None else itertools.count()
    deadline: list[float] = []  # set when the clients are released
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        with make_client() as client:
            for i in range(warmup):  # connection set-up and first-use costs stay out of the figures
                call(client, -1 - i)
            barrier.wait()
            mine: list[float] = []
            while True:
                with lock:
                    index = next(counter, None)
                if index is None or (deadline and time.perf_counter() >= deadline[0]):
                    break
                started = time.perf_counter()
                try:
                    ok, detail = call(client, index)
                except httpx.HTTPError as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                mine.append(time.perf_counter() - started)
                if not ok:
                    with lock:
                        errors.append(detail)
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, name=f"{name}-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu_before = server_cpu_s(pid)
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if duration_s is not None:
        deadline.append(started + duration_s)
    barrier.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = server_cpu_s(pid) - cpu_before
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    own = (own_after.ru_utime - own_before.ru_utime) + (own_after.ru_stime - own_before.ru_stime)
    ms = sorted(v * 1000 for v in latencies)
    ok = len(ms) - len(errors)
    return {
        "requests": len(ms),
        "ok": ok,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "wall_s": round(wall, 3),
        "per_s": round(ok / wall, 1) if wall else None,
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
        "server_cpu_ms_per_request": round(cpu * 1000 / len(ms), 2) if ms else None,
        "server_cpu_share": round(cpu / wall, 2) if wall else None,
        "loadgen_cpu_share": round(own / wall, 2) if wall else None,
    }


def main() -> None:
    job = json.load(sys.stdin)
    base = job["base_url"]
    clients = job["clients"]
    pid = job["server_pid"]
    warmup = job.get("warmup", 5)
    timeout = httpx.Timeout(60.0)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    fault = job["fault_report"]
    seen_rows: dict[str, list[int]] = {"queue": [], "requests": []}

    def api_client() -> httpx.Client:
        return httpx.Client(
            base_url=base, timeout=timeout, limits=limits, headers={"Authorization": f"Bearer {job['api_token']}"}
        )

    def cookie_client(cookies: dict[str, str]) -> Callable[[], httpx.Client]:
        return lambda: httpx.Client(base_url=base, timeout=timeout, limits=limits, cookies=cookies)

    variants: list[dict[str, Any]] = job.get("fault_variants") or [{}]

    def file_one(client: httpx.Client, index: int) -> tuple[bool, str]:
        data = {**fault, **variants[index % len(variants)]}
        body = {
            "type": "fault_report",
            "carry_out_on": None,
            "data": {**data, "description": f"{data['description']} (bench {index})"},
        }
        response = client.post("/api/v1/requests", json=body)
        if response.status_code != 201:
            return False, f"{response.status_code}: {response.text[:200]}"
        return True, ""

    def page(path: str, key: str) -> Callable[[httpx.Client, int], tuple[bool, str]]:
        def get(client: httpx.Client, _index: int) -> tuple[bool, str]:
            response = client.get(path)
            if response.status_code != 200:
                return False, f"{response.status_code}: {response.text[:200]}"
            text = response.text
            rows = len(ROW.findall(text)) - 1  # minus the header row
            seen_rows[key].append(rows)
            if rows < 1 or 'class="list' not in text:  # a request list ("list requests …")
                return False, f"200 without request rows ({rows})"
            return True, ""

        return get

    phases = job.get("phases") or ["file", "queue", "requests"]
    results: dict[str, Any] = {}
    if "file" in phases:
        results["file"] = run_phase("file", job["posts"], clients, api_client, file_one, pid, warmup)
    if "queue" in phases:
        results["queue"] = run_phase(
            "queue",
            job["gets"],
            clients,
            cookie_client(job["staff_cookies"]),
            page("/staff/queue", "queue"),
            pid,
            warmup,
        )
    if "requests" in phases:
        results["requests"] = run_phase(
            "requests",
            job["gets"],
            clients,
            cookie_client(job["customer_cookies"]),
            page("/requests", "requests"),
            pid,
            warmup,
        )
    if "sustain" in phases:
        results["sustain"] = run_phase(
            "sustain", None, clients, api_client, file_one, pid, warmup, duration_s=job["sustain_s"]
        )
    cookies = {"staff": job.get("staff_cookies"), "customer": job.get("customer_cookies")}
    for spec in job.get("pages", []) if "pages" in phases else []:

        def get_page(client: httpx.Client, _index: int, spec: dict[str, Any] = spec) -> tuple[bool, str]:
            response = client.get(spec["path"])
            if response.status_code != 200:
                return False, f"{response.status_code}: {response.text[:200]}"
            if spec["contains"] not in response.text:
                return False, f"200 without {spec['contains']!r}"
            return True, ""

        results[spec["name"]] = run_phase(
            spec["name"], job["gets"], clients, cookie_client(cookies[spec["cookies"]]), get_page, pid, warmup
        )
    for key, rows in seen_rows.items():
        if key in results:
            results[key]["rows_per_page"] = [min(rows), max(rows)] if rows else None
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
