"""Settings: one prefix, embedded defaults, and production refusing what would be unsafe there."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.platform.errors import ConfigurationError
from core.platform.settings import Settings

STRONG = "Zx9!mQ2#vL7@pR4$wT8%kN3^hB6&jD1*fG5(sA0)"


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BBPORTAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BBPORTAL_DEFAULT_LANGUAGE", "en")
    monkeypatch.setenv("BBPORTAL_BASE_URL", "https://portal.example")
    settings = make()
    assert settings.data_dir == tmp_path and settings.default_language == "en"
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'bbportal.db').resolve()}"


def test_embedded_secret_is_generated_once_per_data_folder(tmp_path: Path) -> None:
    first = make(data_dir=tmp_path).resolved_secret_key
    assert len(first) >= 48 and make(data_dir=tmp_path).resolved_secret_key == first


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "BBPORTAL_SECRET_KEY is required"),
        ({"secret_key": "short"}, "too weak"),
        ({"secret_key": "a" * 64}, "too weak"),
        ({"secret_key": STRONG}, "SQLite"),
        (
            {"secret_key": STRONG, "database_url": "postgresql+psycopg://db/portal", "default_language": "de"},
            "DEFAULT_LANGUAGE",
        ),
    ],
)
def test_production_refuses_unsafe_settings_with_one_line(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make(production=True, **values).check_production()
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_production_accepts_safe_settings() -> None:
    settings = make(production=True, secret_key=STRONG, database_url="postgresql+psycopg://db/portal")
    settings.check_production()
    assert not settings.runs_embedded_worker


def test_embedded_mode_runs_the_worker_in_process() -> None:
    assert make().runs_embedded_worker


def test_a_redis_broker_means_the_relay_and_the_dramatiq_workers_do_the_background_work() -> None:
    """Not production, but with Redis: serve starts no background process that would compete with the relay."""
    assert not make(redis_url="redis://127.0.0.1:6379/0").runs_embedded_worker
    assert make(redis_url="redis://127.0.0.1:6379/0", embedded_worker=True).runs_embedded_worker


def test_the_postgresql_pool_is_sized_by_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """BBPORTAL_DB_POOL_SIZE and BBPORTAL_DB_MAX_OVERFLOW size each process's pool (docs/operations.md sums them)."""
    from core.portal import build_portal

    monkeypatch.setenv("BBPORTAL_DATABASE_URL", "postgresql+psycopg://portal@127.0.0.1:1/nowhere")  # never connected
    monkeypatch.setenv("BBPORTAL_DB_POOL_SIZE", "3")
    monkeypatch.setenv("BBPORTAL_DB_MAX_OVERFLOW", "2")
    portal = build_portal(make(data_dir=tmp_path))
    pool = portal.database.write_engine.pool
    assert (pool.size(), pool._max_overflow) == (3, 2)  # type: ignore[attr-defined]
    assert portal.database.read_engine is portal.database.write_engine
    with pytest.raises(ValueError):
        make(db_pool_size=0)
