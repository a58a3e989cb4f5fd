"""The portal's wheel, built from the repository, installs into a clean virtual environment and serves in Swedish.

``uv build`` (an sdist, then the wheel from it, as a packager would) runs offline: hatchling and Babel, the
build's requirements, come from uv's cache, which ``python3 dev.py`` filled when it installed the lock. The
portal's dependencies are installed from the same cache at the versions ``uv.lock`` pins, the wheel without
them; then ``bbportal serve`` of that environment, started outside the repository with a fresh data folder,
must answer /login in Swedish without compiling a catalog: the wheel carries them compiled (``hatch_build.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.integration.test_serve_processes import free_port, stop, wait_for
from tests.plugin_packages import REPOSITORY, run

pytestmark = pytest.mark.wheel

UV = Path(sys.executable).parent / "uv"


def offline_env() -> dict[str, str]:
    """This machine's environment for uv, offline, without this test run's or the portal's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "BBPORTAL_", "VIRTUAL_ENV", "UV_"))}
    env.pop("PYTHONPATH", None)
    return {**env, "UV_OFFLINE": "1", "UV_LINK_MODE": "copy", "UV_NO_CONFIG": "1"}


def catalogs(site: Path) -> dict[Path, tuple[int, int]]:
    """Every file in the installed packages' locale folders, with its inode and modification time."""
    found = {}
    for package in ("core", "plugins"):
        for path in (site / package).glob("**/locale/**/*"):
            if path.is_file():
                found[path.relative_to(site)] = (path.stat().st_ino, path.stat().st_mtime_ns)
    return found


@pytest.mark.skipif(not UV.exists(), reason="uv is installed into .venv by python3 dev.py; it is not here")
def test_the_wheel_installs_into_a_clean_environment_and_serves_swedish_pages(tmp_path: Path) -> None:
    env = offline_env()
    dist = tmp_path / "dist"
    built = run(UV, "build", "--out-dir", dist, REPOSITORY, cwd=tmp_path, env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    sources = sorted(str(p.relative_to(REPOSITORY)) for p in REPOSITORY.glob("*/**/locale/*/LC_MESSAGES/*.po"))
    sources = [s for s in sources if s.startswith(("core/", "plugins/"))]
    assert len(sources) >= 8 and set(sources) <= names
    assert {s.removesuffix(".po") + ".mo" for s in sources} <= names, "a catalog is not compiled in the wheel"

    venv = tmp_path / "venv"
    created = run(UV, "venv", "--quiet", "--python", sys.executable, venv, cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stdout + created.stderr
    requirements = tmp_path / "requirements.txt"
    exported = run(
        UV, "export", "--frozen", "--no-dev", "--no-emit-project", "--quiet", "--output-file", requirements,
        cwd=REPOSITORY, env=env,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stdout + exported.stderr
    python = venv / "bin" / "python"
    installed = run(
        UV, "pip", "install", "--python", python, "-r", requirements, "--no-deps", wheel, cwd=tmp_path, env=env
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    located = run(python, "-c", "import core, sysconfig; print(core.__file__, sysconfig.get_paths()['purelib'])",
                  cwd=tmp_path, env=env)  # fmt: skip
    module, purelib = located.stdout.split()
    site = Path(purelib)
    assert Path(module) == site / "core" / "__init__.py"  # the installed wheel, not the repository
    before = catalogs(site)

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [venv / "bin" / "bbportal", "serve", "--port", str(port), "--workers", "1"],
            cwd=tmp_path,
            env={**env, "BBPORTAL_DATA_DIR": str(tmp_path / "data")},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, 90, "the installed portal to answer")
        page = httpx.get(f"{base}/login", timeout=30)
        assert page.status_code == 200
        assert "<h1>Logga in</h1>" in page.text and "Lösenord" in page.text
    finally:
        stop(server)
    # A Swedish page loads the core's catalog and every plugin's: none was written, none compiled in memory.
    assert catalogs(site) == before, "a catalog was compiled at run time"
    assert "compiled in memory" not in log.read_text(errors="replace")
    shutil.rmtree(venv)  # a few hundred megabytes: not kept with the test's folder
