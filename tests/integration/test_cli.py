"""The bbportal command: every command has --help; database, demo data, staff users, plugins, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlmodel import select

from core.cli import main
from core.models import User
from core.platform.db import create_database
from core.platform.settings import get_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("BBPORTAL_DATA_DIR", str(tmp_path))
    for name in ("BBPORTAL_DATABASE_URL", "BBPORTAL_PRODUCTION", "BBPORTAL_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
        else:
            found.append((*prefix, name))
    return found


def test_every_command_has_help() -> None:
    runner = CliRunner()
    commands = all_commands(main)
    assert {("serve",), ("db", "upgrade"), ("demo", "load"), ("staff", "create"), ("plugins", "list")} <= set(commands)
    for command in commands:
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, command


def test_database_demo_staff_and_plugins(env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["demo", "load"]).exit_code == 0
    assert runner.invoke(main, ["demo", "load"]).exit_code == 0  # idempotent
    created = runner.invoke(
        main,
        [
            "staff",
            "create",
            "--email",
            "Ny@BBgruppen.example",
            "--name",
            "Ny Person",
            "--admin",
            "--password",
            "ett-langt-losenord",
        ],
    )
    assert created.exit_code == 0, created.output
    duplicate = runner.invoke(
        main,
        ["staff", "create", "--email", "ny@bbgruppen.example", "--name", "Igen", "--password", "ett-langt-losenord"],
    )
    assert duplicate.exit_code == 1 and "email" in duplicate.output
    database = create_database(f"sqlite:///{env / 'bbportal.db'}")
    with database.reading() as s:
        user = s.exec(select(User).where(User.email == "ny@bbgruppen.example")).one()
    database.dispose()
    assert user.role == "admin" and user.kind == "staff"
    listing = runner.invoke(main, ["plugins", "list"])
    assert "fault_report" in listing.output and "Felanmälan" in listing.output and "manual" in listing.output


def test_production_refuses_to_start_with_one_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BBPORTAL_PRODUCTION", "true")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0
    assert "BBPORTAL_SECRET_KEY is required in production mode." in result.output
    monkeypatch.setenv("BBPORTAL_SECRET_KEY", "Zx9!mQ2#vL7@pR4$wT8%kN3^hB6&jD1*fG5(sA0)")
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0 and "SQLite is the embedded default only" in result.output


def test_serve_believes_forwarded_headers_only_from_the_configured_proxies(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(options))
    result = CliRunner().invoke(main, ["serve", "--workers", "1", "--no-demo"])
    assert result.exit_code == 0, result.output
    assert started[-1]["proxy_headers"] is True and started[-1]["forwarded_allow_ips"] == "127.0.0.1"
    monkeypatch.setenv("BBPORTAL_FORWARDED_ALLOW_IPS", "10.0.0.5,10.0.1.0/24")
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["serve", "--workers", "1", "--no-demo"])
    assert result.exit_code == 0, result.output
    assert started[-1]["forwarded_allow_ips"] == "10.0.0.5,10.0.1.0/24"
