"""The test kit's pytest fixtures, registered through the ``pytest11`` entry point of the installed portal.

Any package that has the portal installed gets them in its tests without a conftest: a migrated database
per test (SQLite by default; PostgreSQL when ``BBPORTAL_TEST_DATABASE_URL`` names a server the tests may
create databases on), a fixed clock, a portal with the installed plugins (and ``extra_plugins``), the demo
world, and web clients logged out, as a customer and as staff. The schema is migrated once per run; each
test gets a copy (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.migrate import upgrade
from core.platform.clock import FixedClock
from core.platform.db import Database, create_database
from core.platform.settings import Settings
from core.portal import Portal, build_portal
from core.testing.web import WebClient
from core.testing.world import World, make_world

DATABASE_URL_VARIABLE = "BBPORTAL_TEST_DATABASE_URL"
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
"""The fixed clock's moment: a Friday morning in Stockholm (10:00 local time)."""
BASE_URL = "http://testserver.local"


def _pg_url() -> str:
    return os.environ.get(DATABASE_URL_VARIABLE, "")


class DatabaseFactory:
    """Hands out fresh migrated databases, copies of one template migrated at the start of the run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pg_url = _pg_url()
        self.created: list[str] = []
        if self.pg_url:
            self.admin_url = make_url(self.pg_url).set(database="postgres")
            self.template = f"bbtest_tmpl_{uuid.uuid4().hex[:8]}"
            self._admin(f'CREATE DATABASE "{self.template}"')
            template_db = create_database(make_url(self.pg_url).set(database=self.template).render_as_string(False))
            upgrade(template_db)
            template_db.dispose()
        else:
            self.template_file = root / "template.db"
            template_db = create_database(f"sqlite:///{self.template_file}")
            upgrade(template_db)
            template_db.dispose()  # the last connection to close checkpoints the WAL into the file

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(statement))
        engine.dispose()

    def new(self) -> Database:
        if self.pg_url:
            name = f"bbtest_{uuid.uuid4().hex[:12]}"
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self.created.append(name)
            return create_database(make_url(self.pg_url).set(database=name).render_as_string(False))
        path = self.root / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.template_file, path)
        wal = self.template_file.with_name(self.template_file.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, path.with_name(path.name + "-wal"))
        return create_database(f"sqlite:///{path}")

    def drop(self, database: Database) -> None:
        database.dispose()
        if self.pg_url:
            name = make_url(database.url).database
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if name in self.created:
                self.created.remove(name)

    def close(self) -> None:
        if self.pg_url:
            for name in list(self.created):
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.close()


@pytest.fixture
def database(database_factory: DatabaseFactory) -> Iterator[Database]:
    """A fresh migrated database (the core's tables and every installed plugin's), dropped after the test."""
    db = database_factory.new()
    yield db
    database_factory.drop(db)


@pytest.fixture
def clock() -> FixedClock:
    """The portal's clock, fixed at :data:`START`; ``clock.advance(timedelta(...))`` moves it on."""
    return FixedClock(START)


@pytest.fixture
def test_settings(tmp_path: Path) -> Settings:
    """Settings for one test: files under ``tmp_path``, no embedded worker (run it with ``run_background_work``)."""
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-" + "x" * 40,
        base_url=BASE_URL,
        embedded_worker=False,
        _env_file=None,
    )  # type: ignore[call-arg]


@pytest.fixture
def extra_plugins() -> list[Any]:
    """Override in a test module to register plugins next to the installed ones (one already installed
    through its entry point is not registered twice)."""
    return []


@pytest.fixture
def portal(test_settings: Settings, database: Database, clock: FixedClock, extra_plugins: list[Any]) -> Portal:
    """A portal with every installed plugin, on the test's database and clock."""
    return build_portal(test_settings, database=database, clock=clock, extra_plugins=extra_plugins)


@pytest.fixture
def world(portal: Portal) -> World:
    """The demo world (:class:`core.testing.World`): organisations, systems, customers and staff."""
    return make_world(portal)


@pytest.fixture
def app(portal: Portal) -> Any:
    """The portal's web application (pages and JSON API)."""
    from core.web.app import create_app

    return create_app(portal)


@pytest.fixture
def make_web(app: Any) -> Iterator[Callable[[], WebClient]]:
    """Several independent clients in one test (two staff members, a customer and staff …)."""
    from litestar.testing import TestClient

    # Only the first client runs the app's lifespan: two lifespans of one app must not overlap.
    with TestClient(app, base_url=BASE_URL) as first:
        clients = [first]

        def factory() -> WebClient:
            if clients:
                return WebClient(clients.pop())
            return WebClient(TestClient(app, base_url=BASE_URL))

        yield factory


@pytest.fixture
def web(make_web: Callable[[], WebClient]) -> WebClient:
    """A logged-out browser-like client; ``web.login(email)`` logs it in."""
    return make_web()


@pytest.fixture
def customer_web(make_web: Callable[[], WebClient], world: World) -> WebClient:
    """A client logged in as the demo organisation's administrator (``world.admin``)."""
    client = make_web()
    client.login(world.admin.email)
    return client


@pytest.fixture
def staff_web(make_web: Callable[[], WebClient], world: World) -> WebClient:
    """A client logged in as a handläggare (``world.staff``)."""
    client = make_web()
    client.login(world.staff.email)
    return client
