"""The production topology, started from the kit's own ``deploy/Procfile``, under load and faults.

Its own Redis server (``redis-server`` on a free port, no persistence) and its own PostgreSQL: a private
cluster (``initdb`` + ``pg_ctl`` on a free port, as the ``postgres`` user when run as root; removed afterwards),
or a fresh database on the server ``BBPORTAL_TOPOLOGY_POSTGRES`` names (the machine's 127.0.0.1:5432 only where
``initdb`` is missing), dropped afterwards. From the Procfile: the web line twice (the first one
migrates: the one-shot migration job of the single-host kit), the worker line (two Dramatiq processes), the
relay and the LMTP listener; an SMTP sink (aiosmtpd) in this process that the portal's SMTP setting points at.

The scenario files 300 requests through the JSON API, alternating between the two web processes; staff take
requests and ask customers, who answer by mail through LMTP; scheduled requests come due. One worker process
is SIGKILLed while mails flow and the worker line started again, and the Redis server is restarted once
(losing what it held). Afterwards every request is in the state the scenario put it in, has exactly one
receipt, every mail the portal kept as sent arrived exactly once (by Message-ID), and no outbox row is left.

It runs on its own (``pytest -m topology``; ``.ci/run`` has a step for it): a few minutes of two cores.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import Any

import httpx
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
PROCFILE = REPOSITORY / "deploy" / "Procfile"
SERVER_URL = os.environ.get("BBPORTAL_TOPOLOGY_POSTGRES", "")
"""A PostgreSQL server to make the test's database on (and drop it from afterwards) instead of a private cluster."""
SHARED_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
"""The machine's server: used only when no private cluster can be made (no ``initdb``)."""
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
FILINGS = 300
DEADLINE = 300.0
"""Seconds the portal gets to settle after the scenario (it needs about a minute; CI machines are slow)."""

pytestmark = pytest.mark.topology


def _selected(config: pytest.Config) -> bool:
    return "topology" in (config.getoption("markexpr") or "") and "not topology" not in config.getoption("markexpr")


def _postgres_reachable(url: str) -> str | None:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL is not reachable at {url} ({type(exc).__name__})"
    return None


def _initdb() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1] if found else None


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: there, its tools run as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def private_cluster(initdb: Path) -> Iterator[str]:
    """A PostgreSQL cluster of the test's own (``initdb`` + ``pg_ctl``, about two seconds), on a free port."""
    root = Path(tempfile.mkdtemp(prefix="bbtopology-pg-"))  # not under pytest's root-only tmp folder
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port, pg_ctl = root / "data", free_port(), str(initdb.parent / "pg_ctl")
    try:
        subprocess.run(
            _as_postgres([str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]),
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"]),
            check=True,
            capture_output=True,
        )
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.25) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return
        except Exception:  # not up yet
            pass
        time.sleep(interval)
    raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")


def procfile_lines() -> dict[str, str]:
    """``name: command`` lines of the kit's Procfile, as honcho reads them (the command runs in a shell)."""
    lines = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            lines[name.strip()] = command.strip()
    return lines


# --- the SMTP sink -------------------------------------------------------------------------------------


class Sink:
    """Every mail the portal sent, as received (the SMTP server the portal's settings point at)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.arrivals.append((time.monotonic(), parsed))  # type: ignore[arg-type]
        return "250 OK"

    def snapshot(self) -> list[EmailMessage]:
        with self.lock:
            return [message for _at, message in self.arrivals]

    def repeated(self) -> dict[str, list[float]]:
        """Message-IDs that arrived more than once, with the moments they arrived."""
        moments: dict[str, list[float]] = {}
        with self.lock:
            for at, message in self.arrivals:
                moments.setdefault(str(message["Message-ID"]), []).append(at)
        return {message_id: at for message_id, at in moments.items() if len(at) > 1}

    def about(self, number: str, address: str) -> list[EmailMessage]:
        return [
            m
            for m in self.snapshot()
            if m.get("X-BBPortal-Request") == number and parseaddr(str(m["To"]))[1] == address
        ]


# --- the processes ---------------------------------------------------------------------------------------


@dataclass
class Topology:
    root: Path
    env: dict[str, str]
    web_ports: list[int]
    lmtp_port: int
    redis_port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    redis: subprocess.Popen[bytes] | None = None

    def start(self, name: str, line: str, **extra: str) -> subprocess.Popen[bytes]:
        """One Procfile line in a shell of its own session (as honcho runs it), its output in a log file."""
        log = (self.root / f"{name}.log").open("ab")
        process = subprocess.Popen(
            ["/bin/sh", "-c", procfile_lines()[line]],
            cwd=self.root,
            env={**self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes[name] = process
        return process

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.root,
            stdout=(self.root / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def pong() -> bool:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        wait_for("redis-server", pong, 20)

    def stop_redis(self) -> None:
        if self.redis is not None:
            stop(self.redis)
            self.redis = None

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop(process)
        self.stop_redis()

    def logs(self) -> str:
        tails = []
        for log in sorted(self.root.glob("*.log")):
            tails.append(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:]))
        return "\n".join(tails)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's whole session (a shell, uvicorn, dramatiq's children), SIGKILL after 15 s."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A fresh database: in a private cluster, or on ``BBPORTAL_TOPOLOGY_POSTGRES`` (then dropped afterwards)."""
    initdb = _initdb()
    with ExitStack() as stack:
        if SERVER_URL or initdb is None:
            server_url = SERVER_URL or SHARED_SERVER_URL
        else:
            try:
                server_url = stack.enter_context(private_cluster(initdb))
            except (subprocess.CalledProcessError, OSError) as exc:
                pytest.skip(f"no private PostgreSQL cluster could be started with {initdb}: {exc}")
        unreachable = _postgres_reachable(server_url)
        if unreachable:
            pytest.skip(unreachable)
        yield stack.enter_context(fresh_database(server_url))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    import sqlalchemy

    name = f"bbtopology_{uuid.uuid4().hex[:10]}"
    server = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sqlalchemy.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    received = Sink()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield received, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def topology(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Topology, Sink]]:
    if not _selected(request.config):
        pytest.skip("the topology test runs on its own: pytest -m topology (.ci/run has a step for it)")
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    database = request.getfixturevalue("database_url")
    received, smtp_port = request.getfixturevalue("sink")
    root = tmp_path_factory.mktemp("topology")
    web_ports, lmtp_port, redis_port = [free_port(), free_port()], free_port(), free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BBPORTAL_", "PYTEST", "HYPOTHESIS"))},
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "BBPORTAL_PRODUCTION": "true",
        "BBPORTAL_SECRET_KEY": secrets.token_urlsafe(48),
        "BBPORTAL_DATABASE_URL": database,
        "BBPORTAL_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "BBPORTAL_BASE_URL": f"http://127.0.0.1:{web_ports[0]}",
        "BBPORTAL_DATA_DIR": str(root / "data"),
        "BBPORTAL_SMTP_HOST": "127.0.0.1",
        "BBPORTAL_SMTP_PORT": str(smtp_port),
        "BBPORTAL_SMTP_SECURITY": "none",
        "BBPORTAL_RELEASE_TIME": "00:00",
        "BBPORTAL_TICK_SECONDS": "1",
        "BBPORTAL_RATE_LIMIT_FILINGS_PER_USER": "0",
        "BBPORTAL_RATE_LIMIT_API_PER_USER": "0",
        "BBPORTAL_RATE_LIMIT_API_PER_ADDRESS": "0",
        "BBPORTAL_DB_POOL_SIZE": "4",
        "BBPORTAL_DB_MAX_OVERFLOW": "4",
        "WEB_PROCESSES": "1",
        "WORKER_PROCESSES": "2",
        "WORKER_THREADS": "4",
        "LMTP_PORT": str(lmtp_port),
    }
    kit = Topology(root=root, env=env, web_ports=web_ports, lmtp_port=lmtp_port, redis_port=redis_port)
    try:
        kit.start_redis()
        kit.start("web.1", "web", WEB_PORT=str(web_ports[0]))  # migrates the empty database, then serves
        wait_for("the first web process", lambda: healthy(web_ports[0]), 120)
        kit.start("web.2", "web", WEB_PORT=str(web_ports[1]))
        kit.start("worker.1", "worker")
        kit.start("relay.1", "relay")
        kit.start("mail.1", "mail")
        wait_for("the second web process", lambda: healthy(web_ports[1]), 120)
        wait_for("the LMTP listener", lambda: bool(socket.create_connection(("127.0.0.1", lmtp_port), 1)), 60)
        yield kit, received
    except BaseException:
        print(kit.logs())
        raise
    finally:
        kit.stop_all()


def healthy(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200


# --- the scenario ----------------------------------------------------------------------------------------


def test_the_kit_topology_under_load_a_killed_worker_and_a_redis_restart(topology: tuple[Topology, Sink]) -> None:
    from sqlalchemy import text

    from core.accounts.auth import create_api_token
    from core.platform.clock import local_today
    from core.platform.settings import Settings
    from core.portal import build_portal
    from core.testing.world import create_world_rows
    from tests.support import VALID_FAULT

    kit, sink = topology
    env = kit.env
    portal = build_portal(
        Settings(
            database_url=env["BBPORTAL_DATABASE_URL"],
            secret_key=env["BBPORTAL_SECRET_KEY"],
            data_dir=kit.root / "test-side",
        )
    )
    world = create_world_rows(portal)
    with portal.database.writing() as s:
        tokens = {
            user.id: create_api_token(s, user, "topology", secret_key=portal.secret_key, clock=portal.clock)
            for user in (world.admin, world.member, world.staff)
        }
    customers = [world.admin, world.member]
    webs = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) for port in kit.web_ports]
    staff = {"authorization": f"Bearer {tokens[world.staff.id]}"}
    tomorrow = (local_today(portal.clock) + timedelta(days=1)).isoformat()

    def file(i: int) -> tuple[int, int, bool]:
        filer = customers[i % 2]
        scheduled = i % 3 == 2
        response = webs[i % 2].post(
            "/api/v1/requests",
            headers={"authorization": f"Bearer {tokens[filer.id]}"},
            json=(
                # A fault report is carried out now; an order of another change may wait for a later day.
                {
                    "type": "order",
                    "data": {
                        "system_id": world.system.id,
                        "order": {"kind": "other", "description": f"Topologitest {i}"},
                    },
                    "carry_out_on": tomorrow,
                }
                if scheduled
                else {
                    "type": "fault_report",
                    "data": {**VALID_FAULT, "system_id": world.system.id, "description": f"Topologitest {i}"},
                    "carry_out_on": None,
                }
            ),
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"]), filer.id or 0, scheduled

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            filed = list(pool.map(file, range(FILINGS // 2)))
            # Mails are flowing: one worker process dies without a chance to clean up (OOM killer, kill -9).
            worker = kit.processes["worker.1"]
            victims = children(worker.pid)
            assert victims, "the worker line started no worker processes"
            os.kill(victims[0], signal.SIGKILL)
            faults = [time.monotonic()]
            filed += list(pool.map(file, range(FILINGS // 2, FILINGS)))
        # The dramatiq group exits when one of its processes is killed; a supervisor starts the line again.
        wait_for("the worker group to exit after the kill", lambda: worker.poll() is not None, 60)
        kit.start("worker.1", "worker")

        filer_of = {request_id: filer for request_id, filer, _ in filed}
        immediate = [request_id for request_id, _, scheduled in filed if not scheduled]
        scheduled = [request_id for request_id, _, scheduled in filed if scheduled]
        taken, asked = immediate[:100], immediate[:50]

        def take(index_and_id: tuple[int, int]) -> None:
            index, request_id = index_and_id
            response = webs[index % 2].post(f"/api/v1/requests/{request_id}/take", headers=staff)
            assert response.status_code == 200, response.text

        def ask(index_and_id: tuple[int, int]) -> None:
            index, request_id = index_and_id
            response = webs[index % 2].post(
                f"/staff/requests/{request_id}/messages",
                headers=staff,
                data={"kind": "ask", "body": "Vilken dörr gäller det?"},
            )
            assert response.status_code in (302, 303), response.text

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(take, enumerate(taken)))
            list(pool.map(ask, enumerate(asked)))

        # The Redis server goes away and comes back empty (no persistence): what it held is lost.
        faults.append(time.monotonic())
        kit.stop_redis()
        time.sleep(1)
        kit.start_redis()

        # Customers answer the question by mail, to the reply address of a mail they got about the request.
        emails = {user.id: user.email for user in customers}

        def reply_address(request_id: int) -> str:
            found: list[str] = []

            def got_one() -> bool:
                found[:] = [
                    str(m["Reply-To"])
                    for m in sink.about(f"BB-{request_id}", emails[filer_of[request_id]])
                    if m["Reply-To"]
                ]
                return bool(found)

            wait_for(f"a mail with a reply address about BB-{request_id}", got_one, DEADLINE)
            return parseaddr(found[-1])[1]

        with smtplib.LMTP("127.0.0.1", kit.lmtp_port) as lmtp:
            for request_id in asked:
                answer = EmailMessage()
                answer["From"] = emails[filer_of[request_id]]
                answer["To"] = reply_address(request_id)
                answer["Subject"] = f"Re: BB-{request_id}"
                answer["Message-ID"] = make_msgid(domain="kund.example")
                answer.set_content(f"Det gäller entrén mot gården (BB-{request_id}).\n")
                refused = lmtp.send_message(answer)
                assert not refused, refused

        # The scheduled requests' date comes: the calendar, not the portal, moves (release time is 00:00).
        with portal.database.write_engine.begin() as connection:
            connection.execute(
                text("UPDATE request SET carry_out_on = :today WHERE status = 'scheduled'"),
                {"today": local_today(portal.clock)},
            )

        expected = {
            **{request_id: "pending" for request_id in immediate[100:] + scheduled},
            **{request_id: "in_progress" for request_id in taken},
        }

        def states() -> dict[int, str]:
            with portal.database.read_engine.connect() as connection:
                return dict(connection.execute(text("SELECT id, status FROM request")).all())  # type: ignore[arg-type]

        def outbox_left() -> list[tuple[Any, ...]]:
            with portal.database.read_engine.connect() as connection:
                return [
                    tuple(row)
                    for row in connection.execute(
                        text("SELECT id, topic, status, attempts, last_error FROM outbox WHERE status <> 'done'")
                    )
                ]

        def settled() -> bool:
            return states() == expected and not outbox_left()

        try:
            wait_for("every request in its state and the outbox empty", settled, DEADLINE, interval=1)
        except AssertionError:
            wrong = {i: (s, expected.get(i)) for i, s in states().items() if expected.get(i) != s}
            raise AssertionError(f"wrong states {wrong}; outbox rows left {outbox_left()[:20]}") from None

        # The mails: what the portal kept as sent arrived at the sink, each exactly once.
        with portal.database.read_engine.connect() as connection:
            kept = connection.execute(text("SELECT message_id, request_id, user_id, kind FROM sent_mail")).all()
            answers_by_mail = dict(
                connection.execute(
                    text("SELECT request_id, count(*) FROM chat_message WHERE via = 'email' GROUP BY request_id")
                ).all()
            )
            histories: dict[int, list[tuple[str, str]]] = {}
            for request_id, action, to_status in connection.execute(
                text("SELECT request_id, action, to_status FROM request_history ORDER BY request_id, id")
            ):
                histories.setdefault(request_id, []).append((action, to_status))
        # Each request's history is the scenario's, and its status is where its history ends.
        answered = [
            ("file", "pending"),
            ("take", "in_progress"),
            ("ask_customer", "waiting_for_customer"),
            ("customer_answered", "in_progress"),
        ]
        wanted = {
            **{request_id: [("file", "pending")] for request_id in immediate[100:]},
            **{request_id: [("file", "scheduled"), ("release", "pending")] for request_id in scheduled},
            **{request_id: [("file", "pending"), ("take", "in_progress")] for request_id in taken},
            **{request_id: answered for request_id in asked},
        }
        assert {request_id: [a for a, _ in h] for request_id, h in histories.items()} == {
            request_id: [a for a, _ in h] for request_id, h in wanted.items()
        }, "histories that are not the scenario's"
        assert histories == wanted
        kept_ids = {row[0] for row in kept}
        wait_for("every kept mail at the sink", lambda: kept_ids <= {str(m["Message-ID"]) for m in sink.snapshot()}, 60)
        time.sleep(2)  # a late duplicate would arrive now
        arrivals = Counter(str(m["Message-ID"]) for m in sink.snapshot())
        # The one repeat no protocol prevents: the SMTP server took the mail, then its worker was killed (or
        # Redis lost the job) before the row was marked done; it goes again with the same Message-ID. Only a
        # mail that first arrived at the moment of a fault may arrive twice, and only once more.
        repeated = sink.repeated()
        explained = {
            message_id: at
            for message_id, at in repeated.items()
            if len(at) == 2 and any(fault - 5 <= at[0] <= fault + 5 for fault in faults)
        }
        assert repeated == explained, f"mails that arrived more than once: {repeated}, faults at {faults}"
        assert len(explained) <= 8, "more repeats than the killed worker had threads in flight"
        print(f"{len(arrivals)} mails; {len(explained)} repeated by a fault")
        assert set(arrivals) == kept_ids, "mails at the sink that the portal does not know as sent"
        receipts = Counter((row[1], row[2]) for row in kept if row[3] == "request_filed")
        assert {request_id for request_id, _ in receipts} == set(expected), "requests without a receipt"
        assert all(n == 1 for n in receipts.values())
        assert receipts.keys() >= {(request_id, filer) for request_id, filer in filer_of.items()}
        assert {request_id: answers_by_mail.get(request_id, 0) for request_id in asked} == dict.fromkeys(asked, 1)
        for web in webs:
            ready = web.get("/readyz")
            assert ready.status_code == 200, ready.text
    except BaseException:
        print(kit.logs())
        raise
    finally:
        for web in webs:
            web.close()
        portal.database.dispose()
