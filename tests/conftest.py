"""Shared fixtures: a migrated database per test (copied from one migrated template), clock, portal, clients.

The schema is migrated once per run; each test gets a copy (a file copy on SQLite, ``CREATE DATABASE …
TEMPLATE`` on PostgreSQL when BBPORTAL_TEST_DATABASE_URL is set), so tests run on the migrated schema,
never on ``create_all``, and stay fast.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.migrate import upgrade
from core.platform.clock import FixedClock
from core.platform.db import Database, create_database
from core.platform.settings import Settings
from core.portal import Portal, build_portal

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    """Hash each test password once per run: argon2 stays real, but 300 test users cost one hash each."""
    from functools import lru_cache

    import core.accounts.administration
    import core.accounts.auth

    original = core.accounts.auth.hash_password
    cached = lru_cache(maxsize=64)(original)
    core.accounts.auth.hash_password = cached
    core.accounts.administration.auth.hash_password = cached  # same module object; kept explicit for readers
    yield
    core.accounts.auth.hash_password = original


@pytest.fixture(autouse=True, scope="session")
def _one_writer_per_fact_guard() -> Iterator[None]:
    """Every test runs under the write guard (``tests/write_guard.py``): one writer per fact."""
    from tests import write_guard

    with write_guard.installed():
        yield


@pytest.fixture(autouse=True)
def _no_second_writer() -> Iterator[None]:
    from tests import write_guard

    write_guard.violations.clear()
    yield
    found, write_guard.violations[:] = list(write_guard.violations), []
    assert not found, f"written outside the one writer of the fact: {sorted(set(found))}"


PG_URL = os.environ.get("BBPORTAL_TEST_DATABASE_URL", "")
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {'PostgreSQL ' + make_url(PG_URL).render_as_string() if PG_URL else 'SQLite'}"


class DatabaseFactory:
    """Hands out fresh migrated databases."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.created: list[str] = []
        if PG_URL:
            self.admin_url = make_url(PG_URL).set(database="postgres")
            self.template = f"bbtest_tmpl_{uuid.uuid4().hex[:8]}"
            self._admin(f'CREATE DATABASE "{self.template}"')
            template_db = create_database(make_url(PG_URL).set(database=self.template).render_as_string(False))
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
        if PG_URL:
            name = f"bbtest_{uuid.uuid4().hex[:12]}"
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self.created.append(name)
            return create_database(make_url(PG_URL).set(database=name).render_as_string(False))
        path = self.root / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.template_file, path)
        wal = self.template_file.with_name(self.template_file.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, path.with_name(path.name + "-wal"))
        return create_database(f"sqlite:///{path}")

    def drop(self, database: Database) -> None:
        database.dispose()
        if PG_URL:
            name = make_url(database.url).database
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if name in self.created:
                self.created.remove(name)

    def close(self) -> None:
        if PG_URL:
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
    db = database_factory.new()
    yield db
    database_factory.drop(db)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def test_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-" + "x" * 40,
        base_url="http://testserver.local",
        embedded_worker=False,
        _env_file=None,
    )  # type: ignore[call-arg]


@pytest.fixture
def extra_plugins() -> list[Any]:
    """Override in a test module to register test plugins next to the installed ones."""
    return []


@pytest.fixture
def portal(test_settings: Settings, database: Database, clock: FixedClock, extra_plugins: list[Any]) -> Portal:
    return build_portal(test_settings, database=database, clock=clock, extra_plugins=extra_plugins)


@pytest.fixture
def world(portal: Portal) -> Any:
    from tests.support import make_world

    return make_world(portal)


@pytest.fixture
def app(portal: Portal) -> Any:
    from core.web.app import create_app

    return create_app(portal)


@pytest.fixture
def web(app: Any) -> Iterator[Any]:
    """A logged-out browser-like client; call ``web.login(email)``."""
    from litestar.testing import TestClient

    from tests.support import WebClient

    with TestClient(app, base_url="http://testserver.local") as client:
        yield WebClient(client)


@pytest.fixture
def make_web(app: Any) -> Iterator[Any]:
    """Several independent clients in one test (two staff members, a customer and staff …)."""
    from litestar.testing import TestClient

    from tests.support import WebClient

    # Only the first client runs the app's lifespan: two lifespans of one app must not overlap.
    with TestClient(app, base_url="http://testserver.local") as first:
        clients = [first]

        def factory() -> Any:
            if clients:
                return WebClient(clients.pop())
            return WebClient(TestClient(app, base_url="http://testserver.local"))

        yield factory
