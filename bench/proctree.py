"""The server's processes as the benchmarks see them: ``bbportal serve`` may run several (web, background)."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except OSError:
                continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server's whole process tree so far."""
    total = 0.0
    for member in tree(pid):
        try:
            fields = _stat(member)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def role(pid: int) -> str:
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    if b"core.cli background" in command:
        return "background"
    if b"resource_tracker" in command:
        return "other"
    return "web" if b"spawn_main" in command or b"serve" in command else "other"


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS / VmHWM in MB (10^6 bytes): the largest web process's, and the background process's."""
    web: list[tuple[float, float]] = []
    background = (0.0, 0.0)
    members = tree(pid)
    single = len([m for m in members if role(m) == "web"]) <= 1
    for member in members:
        values: dict[str, float] = {}
        try:
            with open(f"/proc/{member}/status") as handle:
                for line in handle:
                    key, _, rest = line.partition(":")
                    if key in ("VmRSS", "VmHWM"):
                        values[key] = round(int(rest.split()[0]) * 1024 / 1e6, 1)
            kind = role(member)
        except OSError:
            continue
        pair = (values.get("VmRSS", 0.0), values.get("VmHWM", 0.0))
        if kind == "background":
            background = pair
        elif kind == "web" and (single or member != pid):  # several: the supervisor is not a web process
            web.append(pair)
    return {
        "rss_mb": max((rss for rss, _ in web), default=float("nan")),
        "peak_rss_mb": max((hwm for _, hwm in web), default=float("nan")),
        "web_processes": len(web),
        "background_rss_mb": background[0],
        "background_peak_rss_mb": background[1],
    }
