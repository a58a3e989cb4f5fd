"""``bbportal serve --workers 2``: two web processes share the SQLite file, background work runs in its own process.

The real command is started as a child process on a free port with a fresh data folder; a request filed
through the API of one web process is mailed by the background process, and stopping the server stops
every process it started. A background process that dies is logged and started again. Also: the
cross-process writer queue keeps writers of two processes in turn.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from core.accounts import auth
from core.cli import RESTART_DELAY_MAX, restart_delay
from core.demo import DEMO_LOGINS
from core.models import System, User
from core.platform.clock import SystemClock
from core.platform.db import WriterQueue, create_database

BIN = Path(sys.executable).parent
SECRET = "serve-test-secret-" + "k" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(entry.name)
            found |= {child, *children_of(child)}
    return found


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def commands_of(pids: set[int]) -> dict[int, bytes]:
    found = {}
    for pid in pids:
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # ended meanwhile
            continue
    return found


def background_processes(server: subprocess.Popen[bytes]) -> list[int]:
    """The live ``bbportal background`` processes the server started."""
    found = commands_of(children_of(server.pid))
    return [pid for pid, command in found.items() if b"core.cli background" in command and running(pid)]


@contextmanager
def serving(tmp_path: Path, stderr: Any = subprocess.PIPE) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``bbportal serve --workers 2`` on a free port with a fresh data folder, until it answers; stopped after."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BBPORTAL_")},
        "BBPORTAL_DATA_DIR": str(tmp_path),
        "BBPORTAL_SECRET_KEY": SECRET,
        "BBPORTAL_TICK_SECONDS": "0.5",
    }
    server = subprocess.Popen(
        [str(BIN / "bbportal"), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/login", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, 120, "the portal to answer")
        yield server, base
    finally:
        stop(server)


def stop(server: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as an operator stops ``serve``; its whole process group is killed if it does not end in 30 s."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        raise


def customer_token_and_system(tmp_path: Path) -> tuple[str, int]:
    """An API token of the demo customer, and one of their organisation's systems."""
    database = create_database(f"sqlite:///{tmp_path / 'bbportal.db'}")
    with database.writing() as session:
        customer = session.exec(select(User).where(User.email == DEMO_LOGINS[0].email)).one()
        token = auth.create_api_token(session, customer, "test", secret_key=SECRET, clock=SystemClock())
        system = session.exec(
            select(System).where(System.organisation_id == customer.organisation_id).order_by(col(System.id))
        ).first()
        assert system is not None and system.id is not None
    database.dispose()
    return token, system.id


def fault_report(system_id: int) -> dict[str, Any]:
    return {
        "type": "fault_report",
        "data": {
            "system_id": system_id,
            "location": "Huvudentrén",
            "description": "Låset öppnar inte.",
            "contact_name": "Anna Kund",
            "contact_phone": "070-123 45 67",
        },
    }


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process trees from /proc (Linux)")
def test_two_web_processes_and_a_background_process(tmp_path: Path) -> None:
    with serving(tmp_path) as (server, base):
        processes = children_of(server.pid)
        commands = list(commands_of(processes).values())
        assert sum(b"spawn_main" in c for c in commands) == 2, commands  # two web processes
        assert sum(b"core.cli background" in c for c in commands) == 1, commands

        token, system_id = customer_token_and_system(tmp_path)
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(6):  # both web processes take some of them
            response = httpx.post(f"{base}/api/v1/requests", json=fault_report(system_id), headers=headers, timeout=30)
            assert response.status_code == 201, response.text
        mail = tmp_path / "mail"
        wait_for(lambda: mail.is_dir() and len(list(mail.glob("*.eml"))) >= 6, 120, "six receipt mails")
        for receipt in mail.glob("*.eml"):  # links point where this server listens, not at the default port
            links = re.findall(r"https?://[^\s\"'<>]+/requests/\d+", receipt.read_text(encoding="utf-8"))
            assert links and all(link.startswith(f"{base}/requests/") for link in links), links

    # The multiprocessing resource tracker leaves a moment after the supervisor; give every process 15 s.
    wait_for(lambda: not [pid for pid in processes if running(pid)], 15, "every process of the server to end")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process trees from /proc (Linux)")
def test_a_background_process_that_dies_is_logged_and_started_again(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr, serving(tmp_path, stderr) as (server, base):
        (first,) = background_processes(server)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: [p for p in background_processes(server) if p != first], 30, "a new background process")
        (second,) = background_processes(server)

        token, system_id = customer_token_and_system(tmp_path)
        headers = {"Authorization": f"Bearer {token}"}
        response = httpx.post(f"{base}/api/v1/requests", json=fault_report(system_id), headers=headers, timeout=30)
        assert response.status_code == 201, response.text
        mail = tmp_path / "mail"
        wait_for(lambda: mail.is_dir() and list(mail.glob("*.eml")), 60, "the receipt mail, sent by the new process")
    logged = log.read_text()
    assert f"the background process {first} exited with code -9 (killed by SIGKILL); starting it again in 1 s" in logged
    assert f"the background process started again (pid {second})" in logged
    assert not running(second)  # stopping the server stopped the process it started in its place


def test_the_background_process_is_started_again_after_1_2_4_s_up_to_60_s() -> None:
    delays: list[float] = []
    for _ in range(9):  # a process that dies at once, again and again
        delays.append(restart_delay(delays[-1] if delays else None, ran_for=0.5))
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert restart_delay(60, ran_for=RESTART_DELAY_MAX) == 1  # it had run a while: no crash loop, start afresh


def _count_in_turn(lock_base: str, counter: str, rounds: int) -> None:
    queue = WriterQueue(lock_base)
    for _ in range(rounds):
        with queue:
            value = int(Path(counter).read_text() or "0")
            time.sleep(0.0005)  # widen the window a lost update would need
            Path(counter).write_text(str(value + 1))


def test_the_writer_queue_orders_writers_of_several_processes(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_count_in_turn, args=(str(tmp_path / "db.writer-lock"), str(counter), 150))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert counter.read_text() == "450"


def test_the_writer_queue_is_reentrant_within_a_thread(tmp_path: Path) -> None:
    queue = WriterQueue(str(tmp_path / "db.writer-lock"))
    with queue, queue:  # a write transaction that calls a helper which opens one too
        pass
    with queue:  # and it is free again afterwards
        pass
