#!/usr/bin/env python3
"""Install and run the portal or its tests with nothing but Python 3.11+ and git on the machine.

    python3 dev.py serve     # install (pinned by uv.lock) into .venv, then start the embedded portal
    python3 dev.py test      # install, then run the whole test suite (extra arguments go to pytest)
    python3 dev.py lint      # ruff, mypy and import-linter's contracts
    python3 dev.py messages  # extract the core's messages and merge them into the catalogs

The environment is .venv in the repository; uv (pinned below) installs exactly what uv.lock says.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
UV_VERSION = "0.13.8"


MESSAGE_KEYWORDS = [
    "N_",
    "_l",
    "NotFound",
    "Conflict",
    "Forbidden",
    "Throttled",
    "PortalError",
    "PermissionDeniedException",
    "NotAuthorizedException",
]
"""Besides gettext's own: the functions and errors whose first argument is a message id (tests read this too)."""


def _run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(c) for c in command], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["UV_PROJECT_ENVIRONMENT"] = str(VENV)
    env.setdefault("UV_LINK_MODE", "copy")
    ca_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if "SSL_CERT_FILE" not in env and ca_bundle.exists():
        env["SSL_CERT_FILE"] = str(ca_bundle)  # uv uses its own CA list unless told otherwise
    return env


def install() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (dev.py may be started by an older python3)
        sys.exit("Python 3.11 or newer is needed.")
    if not (BIN / "python").exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not (BIN / "uv").exists():
        _run(BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"uv=={UV_VERSION}")
    # Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every process
    # would otherwise compile the whole stack from source at start-up (seconds per test worker or web process).
    _run(BIN / "uv", "sync", "--locked", "--all-extras", "--compile-bytecode", "--quiet", env=_env())
    _run(BIN / "bbportal", "catalogs", "compile")


def main(argv: list[str]) -> None:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "serve":
        install()
        os.execv(str(BIN / "bbportal"), [str(BIN / "bbportal"), "serve", *rest])
    elif command == "test":
        install()
        os.execv(str(BIN / "python"), [str(BIN / "python"), "-m", "pytest", *rest])
    elif command == "lint":
        install()
        _run(BIN / "ruff", "check", "core", "plugins", "tests", "bench", "dev.py", "hatch_build.py")
        _run(BIN / "mypy")
        _run(BIN / "lint-imports")  # the layers and contracts in pyproject.toml [tool.importlinter]
    elif command == "messages":
        install()
        pot = "core/locale/bbportal.pot"
        _run(
            BIN / "pybabel",
            "extract",
            "-F",
            "babel.cfg",
            *[f"-k{k}" for k in MESSAGE_KEYWORDS],
            "--no-location",
            "--sort-output",
            "-o",
            pot,
            ".",
        )
        _run(
            BIN / "pybabel",
            "update",
            "-i",
            pot,
            "-d",
            "core/locale",
            "-D",
            "bbportal",
            "-l",
            "sv",
            "--no-fuzzy-matching",
            "--ignore-obsolete",
            "--width=120",  # the catalog's own line width: babel's default (76) rewraps every entry
        )
    else:
        print(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
