"""``bbportal serve --workers 2``: two web processes share the SQLite file, background work runs in its own process.

The real command is started as a child process on a free port with a fresh data folder; a request filed
through the API of one web process is mailed by the background process, and stopping the server stops
every process it started. Also: the cross-process writer queue keeps writers of two processes in turn.
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
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from core.accounts import auth
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


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process trees from /proc (Linux)")
def test_two_web_processes_and_a_background_process(tmp_path: Path) -> None:
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
        stderr=subprocess.PIPE,
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
        processes = children_of(server.pid)
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ") for pid in processes]
        assert sum(b"spawn_main" in c for c in commands) == 2, commands  # two web processes
        assert sum(b"core.cli background" in c for c in commands) == 1, commands

        database = create_database(f"sqlite:///{tmp_path / 'bbportal.db'}")
        with database.writing() as session:
            customer = session.exec(select(User).where(User.email == DEMO_LOGINS[0].email)).one()
            token = auth.create_api_token(session, customer, "test", secret_key=SECRET, clock=SystemClock())
            system = session.exec(
                select(System).where(System.organisation_id == customer.organisation_id).order_by(col(System.id))
            ).first()
            assert system is not None
        database.dispose()
        body = {
            "type": "fault_report",
            "data": {
                "system_id": system.id,
                "location": "Huvudentrén",
                "description": "Låset öppnar inte.",
                "contact_name": "Anna Kund",
                "contact_phone": "070-123 45 67",
            },
        }
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(6):  # both web processes take some of them
            response = httpx.post(f"{base}/api/v1/requests", json=body, headers=headers, timeout=30)
            assert response.status_code == 201, response.text
        mail = tmp_path / "mail"
        wait_for(lambda: mail.is_dir() and len(list(mail.glob("*.eml"))) >= 6, 120, "six receipt mails")
        for receipt in mail.glob("*.eml"):  # links point where this server listens, not at the default port
            links = re.findall(r"https?://[^\s\"'<>]+/requests/\d+", receipt.read_text(encoding="utf-8"))
            assert links and all(link.startswith(f"{base}/requests/") for link in links), links
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise

    def running(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"

    # The multiprocessing resource tracker leaves a moment after the supervisor; give every process 15 s.
    wait_for(lambda: not [pid for pid in processes if running(pid)], 15, "every process of the server to end")


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
