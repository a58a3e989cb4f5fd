"""The ``bbportal`` command: serve, database, demo data, staff users, plugins, the access-control simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.platform.errors import ConfigurationError, PortalError

if TYPE_CHECKING:
    from core.portal import Portal


def _portal() -> Portal:
    from core.portal import build_portal

    try:
        return build_portal()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def main() -> None:
    """BBGRUPPEN Portal. Settings come from BBPORTAL_* environment variables (or a .env file)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Load demo data into an empty embedded database on first start.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Web processes [default: one per core, at most 4]. With more than one, the embedded background work "
    "runs in a process of its own at a lower CPU priority, so pages come first.",
)
def serve(host: str, port: int, demo: bool, workers: int | None) -> None:
    """Start the web portal (embedded mode: migrates the SQLite database and loads demo data first)."""
    import os

    if "MALLOC_ARENA_MAX" not in os.environ and os.path.basename(sys.argv[0]) == "bbportal":
        # glibc gives every thread its own malloc arena; two keep the threaded server ~20 MB smaller.
        os.environ["MALLOC_ARENA_MAX"] = "2"
        os.execv(sys.executable, [sys.executable, sys.argv[0], *sys.argv[1:]])
    import uvicorn

    from core import demo as demo_data
    from core.migrate import upgrade
    from core.platform import logs
    from core.web.app import create_app

    portal = _portal()
    logs.configure(portal.settings)  # this process's own lines (the background supervisor's); uvicorn's below
    if not portal.settings.production and "base_url" not in portal.settings.model_fields_set:
        # Links in mails point where this server listens; the web and background processes read it from here.
        os.environ["BBPORTAL_BASE_URL"] = listening_url(host, port)
        portal.settings.base_url = os.environ["BBPORTAL_BASE_URL"]
    if not portal.settings.production:
        upgrade(portal.database, plugins=portal.plugins)
        _provision_simulated_systems(portal)
        if demo:
            with portal.database.writing() as session:
                fresh = not demo_data.has_data(session)
                if fresh:
                    demo_data.load(session, portal.clock, portal.hooks)
            if fresh:
                click.echo("Demo data loaded.")
        click.echo(f"\nBBGRUPPEN Portal: {portal.settings.base_url}  (data in {portal.settings.data_dir.resolve()})")
        if demo:
            click.echo("Demo logins:")
            for login in demo_data.DEMO_LOGINS:
                click.echo(f"  {login.role:26} {login.email:38} password: {login.password}")
        click.echo("")
    web_processes = workers or min(os.cpu_count() or 1, MAX_DEFAULT_WEB_PROCESSES)
    if web_processes == 1:
        uvicorn.run(
            create_app(portal),
            host=host,
            port=port,
            log_level="info",
            log_config=logs.uvicorn_config(portal.settings),
            proxy_headers=True,
            forwarded_allow_ips=portal.settings.forwarded_allow_ips,
        )
        return
    background = BackgroundSupervisor() if portal.settings.runs_embedded_worker else None
    if background is not None:
        background.start()
    os.environ["BBPORTAL_EMBEDDED_WORKER"] = "false"  # the web processes leave background work to that process
    portal.database.dispose()
    try:
        uvicorn.run(
            "core.web.app:create_app",
            factory=True,
            workers=web_processes,
            host=host,
            port=port,
            log_level="info",
            log_config=logs.uvicorn_config(portal.settings),  # applied again in each web process
            proxy_headers=True,
            forwarded_allow_ips=portal.settings.forwarded_allow_ips,
            # A new web process imports the whole portal before it answers the supervisor's health check;
            # on a busy machine that takes longer than uvicorn's default 5 s, and it would be killed in a loop.
            timeout_worker_healthcheck=60,
        )
    finally:
        if background is not None:
            background.stop()


MAX_DEFAULT_WEB_PROCESSES = 4
RESTART_DELAY_MAX = 60.0
"""The longest wait before the background process is started again; one that ran this long starts afresh at 1 s."""


def listening_url(host: str, port: int) -> str:
    """The address a browser on this machine reaches ``serve`` at: for every interface, the loopback one."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"  # an IPv6 address in a URL
    return f"http://{shown}:{port}"


def _start_background() -> subprocess.Popen[bytes]:
    """The embedded background work as a child process (``bbportal background``), told who its parent is.

    In a session of its own: Ctrl-C in the terminal stops the server, and the server stops it (a Ctrl-C that
    reached it too would look like a death to :class:`BackgroundSupervisor`).
    """
    import os

    command = [sys.executable, "-m", "core.cli", "background", "--parent", str(os.getpid())]
    return subprocess.Popen(command, start_new_session=True)


def restart_delay(previous: float | None, ran_for: float) -> float:
    """How long to wait before starting the background process again: 1 s, 2 s, 4 s … at most 60 s.

    ``previous`` is the last wait (None the first time); a process that ran ``RESTART_DELAY_MAX`` or longer
    before it died was not crashing in a loop, and the next wait is 1 s again.
    """
    if previous is None or ran_for >= RESTART_DELAY_MAX:
        return 1.0
    return min(previous * 2, RESTART_DELAY_MAX)


class BackgroundSupervisor:
    """Keeps ``bbportal background`` running beside the web processes of ``serve``.

    Without it a background process that died (killed by the OOM killer, a crash in a C library) left the
    pages answering while no mail went out and nothing was fulfilled. Each death is logged with its exit
    code, and the process is started again after :func:`restart_delay`; the outbox hands it whatever was in
    flight in the one that died.
    """

    def __init__(self) -> None:
        import logging
        import threading

        self._log = logging.getLogger("core.cli.background")
        if not logging.getLogger().handlers:  # uvicorn configures only its own loggers
            logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process = _start_background()
        self._watcher = threading.Thread(target=self._watch, name="bbportal-background-supervisor", daemon=True)

    def start(self) -> None:
        self._watcher.start()

    def _watch(self) -> None:
        import signal
        import time

        delay: float | None = None
        while True:
            started = time.monotonic()
            code = self._process.wait()
            if self._stopping.is_set():
                return
            delay = restart_delay(delay, time.monotonic() - started)
            how = f" (killed by {signal.Signals(-code).name})" if code < 0 and -code in signal.valid_signals() else ""
            self._log.error(
                "the background process %s exited with code %s%s; starting it again in %g s",
                self._process.pid,
                code,
                how,
                delay,
            )
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._process = _start_background()
            self._log.info("the background process started again (pid %s)", self._process.pid)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            process = self._process
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@main.command()
@click.option(
    "--nice",
    default=10,
    show_default=True,
    type=click.IntRange(0, 19),
    help="How much to lower this process's CPU priority (0: not at all).",
)
@click.option("--parent", type=int, default=None, hidden=True, help="Stop when this process is gone.")
def background(nice: int, parent: int | None) -> None:
    """Run the embedded background work in this process: the outbox relay, the in-memory worker, the tick.

    ``serve`` starts it by itself when it runs several web processes; mail, fulfilments and the release of
    scheduled requests then happen here, at a lower priority than the pages. With BBPORTAL_REDIS_URL set
    (production), run ``bbportal relay`` and ``dramatiq core.worker.main`` instead.
    """
    import os
    import signal
    import threading

    from core.platform import logs
    from core.worker.runner import EmbeddedWorker

    if nice:
        os.nice(nice)  # before any thread starts: on Linux each thread inherits it
    portal = _portal()
    logs.configure(portal.settings)
    if portal.settings.redis_url:
        raise click.ClickException("BBPORTAL_REDIS_URL is set: run 'bbportal relay' and the dramatiq workers instead.")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    worker = EmbeddedWorker(portal)
    worker.start()
    try:
        while not stopping.wait(1.0):
            if parent is not None and os.getppid() != parent:
                break  # the server that started us is gone (killed): do not linger as an orphan
    finally:
        worker.stop()


def _provision_simulated_systems(portal: Portal) -> list[int]:
    """Systems stored before the simulator was installed get its demo data (only when it is the adapter)."""
    from core.access_control.simulator import PLUGIN_NAME, provision_missing

    if portal.plugins.get_plugin(PLUGIN_NAME) is None:
        return []
    return provision_missing(portal.database, portal.clock)


@main.group()
def db() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Create the database, or bring it up to the newest schema."""
    from core.migrate import upgrade

    portal = _portal()
    upgrade(portal.database, revision, plugins=portal.plugins)
    click.echo(f"Database at {revision}.")


@db.command("reindex")
def db_reindex() -> None:
    """Rebuild the search index of every request from the stored requests, names and chat (a repair; renames
    rebuild their own requests' rows by themselves)."""
    from core.requests import search

    portal = _portal()
    done = search.reindex(portal.database, portal.registry.schema_of)
    click.echo(f"Search index rebuilt for {done} requests.")


@main.command("backup")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(archive: Path) -> None:
    """Write the database and every stored file into one archive (the portal may keep running).

    PostgreSQL is copied with pg_dump (custom format), SQLite with its online backup; then the storage folder.
    """
    from core.platform.backup import BackupError, backup
    from core.platform.settings import get_settings

    settings = get_settings()
    try:
        summary = backup(settings.resolved_database_url, settings.resolved_storage_dir, archive)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Backed up the {summary.database} database and {summary.files} files to {archive}.")


@main.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(archive: Path) -> None:
    """Restore an archive of `bbportal backup` into an EMPTY database and storage folder (never over data).

    Run `bbportal db upgrade` afterwards when the installed portal is newer than the backup.
    """
    from core.platform.backup import BackupError, restore
    from core.platform.settings import get_settings

    settings = get_settings()
    try:
        summary = restore(settings.resolved_database_url, settings.resolved_storage_dir, archive)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Restored the {summary.database} database and {summary.files} files from {archive}.")


@main.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
def demo_load() -> None:
    """Load the demo organisations, users and staff (does nothing if they exist)."""
    from core import demo as demo_data

    portal = _portal()
    if portal.settings.production:
        raise click.ClickException("Demo data is not loaded in production mode.")
    with portal.database.writing() as session:
        demo_data.load(session, portal.clock, portal.hooks)
    click.echo("Demo data loaded.")


@main.group()
def staff() -> None:
    """BBGRUPPEN staff users."""


@staff.command("create")
@click.option("--email", required=True, help="Log-in address.")
@click.option("--name", required=True, help="Full name.")
@click.option("--admin", is_flag=True, help="Administrator (keeps organisations, price lists, …).")
@click.option("--language", type=click.Choice(["sv", "en"]), default="sv", show_default=True)
@click.password_option(help="Password (asked for when not given).")
def staff_create(email: str, name: str, admin: bool, language: str, password: str) -> None:
    """Create a staff user."""
    from core.accounts import administration
    from core.platform.errors import ValidationFailed

    portal = _portal()
    try:
        with portal.database.writing() as session:
            user = administration.create_staff_user(
                session,
                {
                    "email": email,
                    "name": name,
                    "password": password,
                    "language": language,
                    "role": "admin" if admin else "handlaggare",
                },
                clock=portal.clock,
            )
    except ValidationFailed as exc:
        for field, messages in exc.errors.items():
            click.echo(f"{field}: {'; '.join(messages)}", err=True)
        sys.exit(1)
    click.echo(f"Staff user {user.email} created ({user.role}).")


@main.group()
def plugins() -> None:
    """Installed plugins and request types."""


@plugins.command("list")
def plugins_list() -> None:
    """List the loaded plugins and the request types they register."""
    from core.platform.i18n import gettext, use_language
    from core.plugins import build_registry, create_plugin_manager, plugin_names

    manager = create_plugin_manager()
    registry = build_registry(manager)
    click.echo("Plugins:")
    for name in plugin_names(manager):
        click.echo(f"  {name}")
    click.echo("Request types:")
    with use_language("sv"):
        for request_type in registry:
            modes = "/".join(sorted(m.value for m in request_type.modes()))
            click.echo(f"  {request_type.key:16} v{request_type.version}  {modes:24} {gettext(request_type.name)}")


@plugins.command("new")
@click.argument("key")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the package's folder, bbportal-<key> (made when missing).",
)
@click.option("--name", default=None, help='The type\'s name, an English msgid [default: from KEY, "Parking permit"].')
@click.option(
    "--swedish-name",
    default=None,
    help='The name in Swedish, for the catalog ("Parkeringstillstånd") [default: --name].',
)
def plugins_new(key: str, directory: Path, name: str | None, swedish_name: str | None) -> None:
    """Write a new request-type package.

    The package goes into DIRECTORY/bbportal-<KEY>/, ready to install, test and build. KEY is the type's key
    and the package's module, in lower snake case (parking_permit). The package has a pyproject.toml with the
    entry point, the type (importing only core.api), its form, a few words for the form page (a template), a
    Swedish catalog, tests with the portal's test kit and a README.
    """
    from core.scaffold import ScaffoldRefused, write_plugin_package

    try:
        folder = write_plugin_package(key, directory, name, swedish_name)
    except ScaffoldRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Request type {key} written to {folder}. Next, with the portal's environment:")
    click.echo(f"  cd {folder}")
    click.echo("  pip install -e .      # the portal finds the type through its entry point")
    click.echo("  pytest                # the contract, a request carried out, the start page")


@main.group()
def simulator() -> None:
    """The embedded access-control simulator (the default adapter for hosted systems)."""


@simulator.command("provision")
def simulator_provision() -> None:
    """Set up, with demo doors, holders, tags and log, every system the simulator does not know yet."""
    portal = _portal()
    if portal.settings.production:
        raise click.ClickException("The simulator's demo data is not loaded in production mode.")
    done = _provision_simulated_systems(portal)
    click.echo(f"Systems set up: {', '.join(map(str, done))}." if done else "Every system is already set up.")


@simulator.command("fault")
@click.argument("system_id", type=int)
@click.argument("fault", type=click.Choice(["none", "unavailable", "refuse"]))
@click.option(
    "--fail-next",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Make the next N changes fail as timeouts, then answer again (with FAULT none).",
)
def simulator_fault(system_id: int, fault: str, fail_next: int) -> None:
    """Make a simulated system fail, for demos: unavailable (every call), refuse (every change) or none."""
    from core.access_control.simulator import Fault, set_fault

    portal = _portal()
    try:
        set_fault(portal.database, system_id, Fault.NONE if fault == "none" else Fault(fault), fail_next=fail_next)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"System {system_id}: fault {fault}, next {fail_next} change(s) fail.")


@main.command()
@click.option("--interval", default=0.5, show_default=True, help="Seconds between outbox polls.")
def relay(interval: float) -> None:
    """Hand due outbox rows to the Redis broker and release due scheduled requests (production).

    The embedded web process runs its own relay and tick; run this only with BBPORTAL_REDIS_URL set.
    """
    import signal
    import threading
    import time

    from core.conversation.reminders import send_due_reminders
    from core.platform import logs, request_ids
    from core.requests.scheduling import release_due
    from core.worker.broker import configure_broker
    from core.worker.runner import (
        HOUSEKEEPING_CHECK_SECONDS,
        REMINDER_CHECK_SECONDS,
        Pulse,
        housekeeping_if_due,
        recover_lost_messages,
        relay_once,
    )

    portal = _portal()
    if not portal.settings.redis_url:
        raise click.ClickException("Set BBPORTAL_REDIS_URL: without it the embedded web process relays.")
    logs.configure(portal.settings)
    broker = configure_broker(portal.settings.redis_url, portal.settings.redis_namespace)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    click.echo("Relaying the outbox to Redis; Ctrl-C or SIGTERM stops.")
    last_tick = last_reminders = last_housekeeping = -float("inf")
    pulse = Pulse(portal)  # the heartbeat /readyz reads: this relay's rounds go through
    try:
        while not stopping.is_set():
            try:
                forgotten = recover_lost_messages(portal, broker)  # Redis came back empty: hand out again now
                if forgotten:
                    click.echo(f"Redis lost its messages: handing {forgotten} outbox rows out again.", err=True)
                relay_once(portal)
                with request_ids.bound(request_ids.new()):  # what a round releases or reminds shares one id
                    if time.monotonic() - last_tick >= portal.settings.tick_seconds:
                        last_tick = time.monotonic()
                        release_due(portal)
                    if time.monotonic() - last_reminders >= REMINDER_CHECK_SECONDS:
                        last_reminders = time.monotonic()
                        send_due_reminders(portal)
                    if time.monotonic() - last_housekeeping >= HOUSEKEEPING_CHECK_SECONDS:
                        last_housekeeping = time.monotonic()
                        housekeeping_if_due(portal)
                pulse()
            except Exception as exc:  # the broker or the database is away for a moment: next round
                click.echo(f"relay round failed: {type(exc).__name__}: {exc}", err=True)
            stopping.wait(interval)
    except KeyboardInterrupt:
        pass


@main.command()
def housekeeping() -> None:
    """Remove now what no longer serves: expired sessions, old log-in failures, done jobs past
    BBPORTAL_OUTBOX_KEEP_DAYS, staged files never recorded, expired extracts (the background side does it
    daily by itself). Prints the count of each kind."""
    import logging

    from core.workflow.housekeeping import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    removed = run(_portal())
    for kind, count in removed.items():
        click.echo(f"{kind}: {count} removed")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9464, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
def metrics(host: str, port: int) -> None:
    """Serve /metrics on its own address, for a host that runs workers but no web process.

    The same answer as the web's /metrics (this host's counters from PROMETHEUS_MULTIPROC_DIR, then the
    database's state), behind the same bearer token (BBPORTAL_METRICS_TOKEN), until Ctrl-C or SIGTERM.
    """
    import signal
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prometheus_client import CONTENT_TYPE_LATEST

    from core.platform import logs
    from core.web.metrics import authorized, exposition

    portal = _portal()
    logs.configure(portal.settings)
    if not portal.settings.metrics_token:
        raise click.ClickException("Set BBPORTAL_METRICS_TOKEN: /metrics is served only behind a token.")

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
            elif not authorized(portal.settings, self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Bearer realm="metrics"')
                self.end_headers()
            else:
                body = exposition(portal)
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds are not worth a line each

    server = ThreadingHTTPServer((host, port), Answer)
    serving = threading.Thread(target=server.serve_forever, name="bbportal-metrics", daemon=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    serving.start()
    click.echo(f"Serving /metrics on {host}:{port}; Ctrl-C or SIGTERM stops.")
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()  # from this thread: serve_forever runs in the other one
        server.server_close()


@main.group()
def jobs() -> None:
    """Background jobs (the outbox)."""


@jobs.command("failed")
def jobs_failed() -> None:
    """List the jobs that failed after every retry."""
    from sqlmodel import col, select

    from core.platform.outbox import OutboxMessage, OutboxStatus

    portal = _portal()
    with portal.database.reading() as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.FAILED.value)
            .order_by(col(OutboxMessage.id))
        )
        found = False
        for row in rows:
            found = True
            click.echo(f"#{row.id}  {row.topic:16} attempts={row.attempts}  {row.payload}  {row.last_error[:120]}")
    if not found:
        click.echo("No job has failed.")


@jobs.command("retry")
@click.argument("job_ids", nargs=-1, type=int, required=True)
def jobs_retry(job_ids: tuple[int, ...]) -> None:
    """Send failed jobs again (by id)."""
    from core.platform import outbox

    portal = _portal()
    for job_id in job_ids:
        outbox.retry(portal, job_id)
        click.echo(f"#{job_id} will run again.")


@main.group()
def mail() -> None:
    """Inbound mail (answers by e-mail)."""


# Exit codes an MTA understands (sysexits.h): delivered, permanent failure, try again later.
EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75


@mail.command("receive")
def mail_receive() -> None:
    """Read one message on standard input (for an MTA pipe) and take it in.

    Exits 0 when the mail is taken (attached to a request, kept in quarantine, or ignored as an
    auto-reply or bounce), 65 when it can never be taken (over the size limit, empty: the MTA returns it
    to the sender), 75 when the portal cannot store it now (the MTA keeps it and tries again).
    """
    from core.conversation.intake import Refused, receive

    try:
        portal = _portal()
        raw = sys.stdin.buffer.read(portal.settings.inbound_mail_max_bytes + 1)
        outcome = receive(portal, raw)
    except Refused as exc:
        click.echo(f"{exc.smtp_reply[4:]}: {exc.detail}", err=True)
        sys.exit(EX_DATAERR)
    except Exception as exc:  # the database is away, a disk is full: the MTA retries later
        click.echo(f"4.3.0 the portal cannot take mail now: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(f"{outcome.status}: {outcome.reason} (inbound mail #{outcome.inbound_mail_id})")
    sys.exit(EX_OK)


@mail.command("listen")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--lmtp", is_flag=True, help="Speak LMTP (one answer per recipient) instead of SMTP.")
def mail_listen(host: str, port: int, lmtp: bool) -> None:
    """Take inbound mail from the MTA over SMTP or LMTP (production), until Ctrl-C or SIGTERM.

    Accepts only recipients in BBPORTAL_REPLY_DOMAIN and the bounce address (BBPORTAL_MAIL_ENVELOPE_FROM).
    Answers 250 when a mail is taken, 552/554 when it can never be, 451 when the portal cannot store it now.
    """
    import signal
    import threading

    from core.conversation.intake.listener import IntakeController
    from core.platform import logs

    portal = _portal()
    logs.configure(portal.settings)
    controller = IntakeController(portal, host, port, lmtp=lmtp)
    try:
        controller.start()
    except Exception as exc:  # the port is taken, the address is not ours: say so in one line
        raise click.ClickException(f"cannot listen on {host}:{port}: {type(exc).__name__}: {exc}") from exc
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    click.echo(
        f"Taking mail for {portal.settings.reply_domain} over {'LMTP' if lmtp else 'SMTP'} on {host}:{port}; "
        "Ctrl-C or SIGTERM stops."
    )
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


@main.group()
def catalogs() -> None:
    """Translations (gettext catalogs)."""


@catalogs.command("compile")
def catalogs_compile() -> None:
    """Compile the core's and every installed plugin's .po catalogs into .mo files."""
    from core.plugins import compile_catalogs

    for path in compile_catalogs():
        click.echo(f"compiled {path}")


def run() -> None:
    try:
        main()
    except PortalError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


if __name__ == "__main__":
    run()
