"""The project's own test setup on top of the test kit: hypothesis profiles, the write guard, the row world.

The kit (``core.testing.fixtures``) gives each test a copy of one migrated database, the fixed clock, the
portal and web clients, as it gives them to any plugin package.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import make_url

from core.portal import Portal
from core.testing.fixtures import DATABASE_URL_VARIABLE

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

logging.getLogger("mail.log").setLevel(logging.WARNING)
"""aiosmtpd (the tests' SMTP servers) logs every command at INFO: pages of it in a failing test's output, and
nothing there that the test's own assertions do not say better."""


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


PG_URL = os.environ.get(DATABASE_URL_VARIABLE, "")


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {'PostgreSQL ' + make_url(PG_URL).render_as_string() if PG_URL else 'SQLite'}"


# The database, clock, settings, portal and web client fixtures come from the test kit that ships with the
# portal (core/testing/fixtures.py, a pytest plugin through the ``pytest11`` entry point), as they do for
# any plugin package. Only ``world`` differs: the core's own tests drive core internals, which take rows.


@pytest.fixture
def world(portal: Portal) -> Any:
    from tests.support import make_world

    return make_world(portal)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server for the session: moto's server mode, on a free port of this machine."""
    from tests.s3 import moto_server

    with moto_server() as endpoint:
        yield endpoint
