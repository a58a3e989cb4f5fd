"""Building, installing and testing a request-type package the way a third party ships one.

The wheel is installed with ``pip install --target`` into a folder put on ``PYTHONPATH`` of a subprocess run
with this environment's Python: the portal then finds the type through the wheel's entry point (importlib
metadata reads the dist-info there), as it would in a real installation, and not through the source folder;
and this test run's own environment stays as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from core.platform.i18n import CORE_DOMAIN, CORE_LOCALE_DIR

REPOSITORY = Path(__file__).resolve().parents[1]


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def isolated_env(site: Path) -> dict[str, str]:
    """This environment with only the installed wheel on PYTHONPATH, and nothing of this pytest run."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(site)
    return env


def catalog(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale="sv")


PORTAL_CATALOG = catalog(CORE_LOCALE_DIR / "sv" / "LC_MESSAGES" / f"{CORE_DOMAIN}.po")


def marked_messages(package: Path, key: str) -> list[str]:
    """What the package's code marks for translation (``N_``), then what its templates show (``_``)."""
    code = sorted((package / key).glob("*.py"))
    templates = sorted((package / key / "templates").rglob("*.html"))
    return [
        message
        for paths, method in ((code, "python"), (templates, "jinja2.ext:babel_extract"))
        for path in paths
        for _line, message, _comments, _context in extract_from_file(method, path, keywords={"N_": None, "_": None})
    ]


def assert_swedish_for(package: Path, key: str, texts: list[str]) -> None:
    """The package's catalog leaves the portal's msgids alone, and every text has Swedish (its own or the portal's)."""
    own = catalog(package / key / "locale" / "sv" / "LC_MESSAGES" / f"{key}.po")
    assert not {message.id for message in own if message.id} & {message.id for message in PORTAL_CATALOG}
    for text in texts:
        translated = own.get(text) or PORTAL_CATALOG.get(text)
        assert translated is not None and translated.string, f"no Swedish for {text!r}"


def assert_lint_clean(package: Path, *, portal_settings: bool = True) -> None:
    """The package passes ruff with its own settings (and, for the scaffold's code, the portal's too)."""
    configs = [["--config", str(REPOSITORY / "pyproject.toml")], []] if portal_settings else [[]]
    for config in configs:
        for command in (["check"], ["format", "--check"]):
            done = run(sys.executable, "-m", "ruff", *command, *config, package, cwd=REPOSITORY)
            assert done.returncode == 0, f"ruff {command} {config}:\n{done.stdout}{done.stderr}"


def build_wheel(package: Path, dist: Path) -> Path:
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, package, cwd=dist.parent)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("*.whl")
    return wheel


def install_wheel(wheel: Path, site: Path) -> None:
    installed = run(sys.executable, "-m", "pip", "install", "--no-deps", "--target", site, wheel, cwd=site.parent)
    assert installed.returncode == 0, installed.stdout + installed.stderr


def run_package_tests(package: Path, site: Path) -> str:
    """The package's tests against the installed wheel (run from outside the source folder); their -v output."""
    tests = run(
        sys.executable,
        *("-m", "pytest", package / "tests", "-v", "-p", "no:cacheprovider"),
        cwd=site.parent,
        env=isolated_env(site),
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    return tests.stdout
