"""The production kit in ``deploy/``: systemd units that systemd accepts, a Procfile, the proxy, every setting.

Each command the kit runs is parsed by the program that will run it (``bbportal``'s click commands,
``dramatiq``'s arguments), so a renamed command or option fails here and not on a server at night.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from dramatiq.cli import make_argument_parser
from pydantic import AliasChoices

from core.cli import main
from core.platform.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[2]
DEPLOY = REPOSITORY / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("bbportal*.*"))
INSTALLED_BIN = "/opt/bbportal/bin"
"""Where the units expect the portal's environment (``python3 -m venv /opt/bbportal``)."""
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
"""honcho's format: ``name: command`` (the command runs in a shell)."""
SHELL_DEFAULT = re.compile(r"\$\{[A-Z0-9_]+:-([^}]*)\}")
"""``${WEB_PORT:-8000}``: a size or port the environment may set; checked here with its default."""


def env_example_names() -> list[str]:
    """The setting of each variable named: ``NAME`` for ``BBPORTAL_NAME``, the variable itself for another."""
    found = re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (DEPLOY / ".env.example").read_text(), flags=re.MULTILINE)
    return [name.removeprefix("BBPORTAL_") for name in found]


def setting_names() -> set[str]:
    """Each setting as the .env file names it: ``NAME`` of ``BBPORTAL_NAME``, or its own variable (an alias:
    ``PROMETHEUS_MULTIPROC_DIR``, which prometheus_client reads too)."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(str(alias.choices[0]) if isinstance(alias, AliasChoices) else name.upper())
    return names


def test_the_env_example_names_every_setting_and_nothing_else() -> None:
    named = env_example_names()
    settings = setting_names()
    assert not settings - set(named), f"missing from deploy/.env.example: {sorted(settings - set(named))}"
    assert not set(named) - settings, f"not settings: {sorted(set(named) - settings)}"
    assert len(named) == len(set(named)), "a setting is named twice"


def test_the_env_example_is_read_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"BBPORTAL_{name.upper()}", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    settings = Settings(_env_file=DEPLOY / ".env.example")  # type: ignore[call-arg]
    assert settings.production and settings.redis_url and settings.database_url.startswith("postgresql+psycopg://")
    assert settings.metrics_dir == Path("/run/bbportal/metrics")
    assert settings.mail_from == "BBGRUPPEN Portal <portal@bbgruppen.se>"


def exec_starts() -> dict[str, list[str]]:
    found = {}
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                found[unit.name] = shlex.split(line.removeprefix("ExecStart="))
    return found


def procfile() -> dict[str, list[list[str]]]:
    """Each process of the Procfile and the commands of its shell line (``a && exec b``)."""
    found = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PROCFILE_LINE.match(line)
        assert match, f"not a Procfile line: {line!r}"
        line_with_defaults = SHELL_DEFAULT.sub(lambda variable: variable.group(1), match.group(2))
        assert "$" not in line_with_defaults, f"a variable without a default: {line!r}"
        commands = [shlex.split(part) for part in line_with_defaults.split("&&")]
        found[match.group(1)] = [command[1:] if command[0] == "exec" else command for command in commands]
    return found


def assert_runs(command: list[str]) -> None:
    """The program is the portal's, and it accepts these arguments."""
    program, arguments = Path(command[0]).name, command[1:]
    if program == "bbportal":
        checked = CliRunner().invoke(main, [*arguments, "--help"])  # names are parsed before --help is honoured
        assert checked.exit_code == 0, f"{shlex.join(command)}: {checked.output}"
    elif program == "dramatiq":
        parsed = make_argument_parser().parse_args(arguments)
        assert importlib.util.find_spec(parsed.broker) is not None, parsed.broker
    else:
        raise AssertionError(f"{shlex.join(command)}: not a program of the portal's environment")


def test_every_command_of_the_units_and_the_procfile_is_accepted() -> None:
    units = exec_starts()
    assert set(units) == {
        "bbportal-migrate.service",
        "bbportal-web.service",
        "bbportal-worker.service",
        "bbportal-relay.service",
        "bbportal-mail.service",
    }
    for command in units.values():
        assert command[0].startswith(f"{INSTALLED_BIN}/")
        assert_runs(command)
    assert units["bbportal-migrate.service"][1:] == ["db", "upgrade"]
    processes = procfile()
    assert set(processes) == {"web", "worker", "relay", "mail"}
    assert processes["web"][0] == ["bbportal", "db", "upgrade"]  # single host: the web line migrates first
    for commands in processes.values():
        for command in commands:
            assert_runs(command)


def test_the_proxy_the_units_and_the_procfile_agree_on_the_web_address() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text()
    (upstream,) = re.findall(r"reverse_proxy\s+(\S+)", caddy)
    host, port = upstream.rsplit(":", 1)
    web = [exec_starts()["bbportal-web.service"], procfile()["web"][-1]]
    for command in web:
        assert command[command.index("--host") + 1] == host and command[command.index("--port") + 1] == port
    assert host == "127.0.0.1" and Settings.model_fields["forwarded_allow_ips"].default == host  # proxy on this host
    assert "health_uri /readyz" in caddy


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on copies pointing at this environment (it checks that programs exist)."""
    here = str(Path(sys.executable).parent)
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED_BIN, here))
    verified = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ours = [line for line in (verified.stdout + verified.stderr).splitlines() if "bbportal" in line]
    assert verified.returncode == 0 and not ours, verified.stdout + verified.stderr
