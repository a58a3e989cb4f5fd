"""One archive holding the database and the stored files, and restoring it into an empty database and folder.

``bbportal backup FILE`` writes a tar archive: ``manifest.json``, the database (PostgreSQL: ``pg_dump``'s custom
format, ``database.dump``; SQLite: a consistent copy through SQLite's online backup, ``database.sqlite3``) and
every stored file under ``files/`` (the storage folder, ``BBPORTAL_STORAGE_DIR`` or ``<data dir>/files``).
The database is copied first, then the files: a file is stored before the transaction that records it, so
every file the copied database names is already in the folder when the folder is read (the archive may hold a
few files more, of transactions that had not committed yet: harmless).

``bbportal restore FILE`` writes into the database and storage folder of the current settings, and only into
empty ones (a database without tables, a missing or empty folder): nothing already stored is overwritten. An
archive of one kind of database restores into the same kind. The portal may run while a backup is made.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url

FORMAT = 1
MANIFEST = "manifest.json"
FILES = "files"
DUMPS = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}


class BackupError(Exception):
    """A backup or restore that cannot be done, with the one-line reason an operator acts on."""


@dataclass(frozen=True)
class Summary:
    database: str
    files: int


def backup(database_url: str, storage_dir: Path, archive: Path) -> Summary:
    """Write the archive (to a temporary name first: a failed backup never leaves a half archive as FILE)."""
    kind = _kind(database_url)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bbportal-backup-") as work:
        dump = Path(work) / DUMPS[kind]
        if kind == "postgresql":
            _pg_dump(database_url, dump)
        else:
            _sqlite_copy(_sqlite_path(database_url), dump)
        partial = archive.with_name(f".{archive.name}.partial")
        files = 0
        with tarfile.open(partial, "w") as tar:
            tar.add(dump, arcname=dump.name)
            for path in _stored_files(storage_dir):
                tar.add(path, arcname=f"{FILES}/{path.relative_to(storage_dir).as_posix()}")
                files += 1
            manifest = json.dumps(
                {"format": FORMAT, "database": kind, "files": files, "created_at": datetime.now(UTC).isoformat()}
            ).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(manifest)
            with tempfile.TemporaryFile() as handle:
                handle.write(manifest)
                handle.seek(0)
                tar.addfile(info, handle)
        partial.replace(archive)
    return Summary(database=kind, files=files)


def restore(database_url: str, storage_dir: Path, archive: Path) -> Summary:
    """Restore the archive into the (empty) database and storage folder of ``database_url``/``storage_dir``."""
    kind = _kind(database_url)
    with _opened(archive) as tar:
        manifest = _manifest(tar)
        if manifest["database"] != kind:
            raise BackupError(
                f"The archive holds a {manifest['database']} database and BBPORTAL_DATABASE_URL names {kind}: "
                "restore into the same kind of database."
            )
        _refuse_unless_empty(database_url, storage_dir)
        with tempfile.TemporaryDirectory(prefix="bbportal-restore-") as work:
            tar.extract(DUMPS[kind], work, filter="data")
            dump = Path(work) / DUMPS[kind]
            if kind == "postgresql":
                _pg_restore(database_url, dump)
            else:
                _sqlite_copy(dump, _sqlite_path(database_url))
        files = 0
        storage_dir.mkdir(parents=True, exist_ok=True)
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(f"{FILES}/"):
                member.name = member.name.removeprefix(f"{FILES}/")
                tar.extract(member, storage_dir, filter="data")  # refuses absolute paths and ``..``
                files += 1
    return Summary(database=kind, files=files)


def _kind(database_url: str) -> str:
    backend = make_url(database_url).get_backend_name()
    if backend not in DUMPS:
        raise BackupError(f"Backups cover PostgreSQL and SQLite, not {backend}.")
    return backend


def _stored_files(root: Path) -> Iterator[Path]:
    """Every stored file, never the temporary ``.upload-*`` files of writes in progress."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith(".upload-"):
            yield path


@contextmanager
def _opened(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(archive, "r") as tar:
            yield tar
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a portal backup that can be read: {exc}") from exc


def _manifest(tar: tarfile.TarFile) -> dict[str, object]:
    try:
        handle = tar.extractfile(MANIFEST)
        manifest = json.loads(handle.read()) if handle else None
    except (KeyError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("database") not in DUMPS:
        raise BackupError("The archive has no manifest of a portal backup (made by `bbportal backup`).")
    return manifest


def _refuse_unless_empty(database_url: str, storage_dir: Path) -> None:
    if storage_dir.exists() and any(storage_dir.iterdir()):
        raise BackupError(f"The storage folder {storage_dir} is not empty: restore only into an empty folder.")
    if database_url.startswith("sqlite"):
        path = Path(_sqlite_path(database_url))
        if not path.exists() or path.stat().st_size == 0:
            return
    engine = create_engine(database_url)
    try:
        tables = inspect(engine).get_table_names()
    except Exception as exc:
        raise BackupError(f"The database cannot be reached: {type(exc).__name__}") from exc
    finally:
        engine.dispose()
    if tables:
        raise BackupError(
            f"The database already has {len(tables)} tables: restore only into an empty database (create a new one)."
        )


def _sqlite_path(database_url: str) -> str:
    path = make_url(database_url).database
    if not path or path == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return path


def _sqlite_copy(source: Path | str, target: Path | str) -> None:
    """SQLite's online backup: a consistent copy while other processes write (WAL included)."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as reader, sqlite3.connect(target) as writer:
        reader.backup(writer)
    reader.close()
    writer.close()


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A URL for pg_dump/pg_restore (no driver name) and the password in the environment, never on the command line."""
    url: URL = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client).")
    return found


def _pg_dump(database_url: str, dump: Path) -> None:
    url, env = _libpq(database_url)
    command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}", url]
    _run(command, env, "pg_dump")


def _pg_restore(database_url: str, dump: Path) -> None:
    url, env = _libpq(database_url)
    command = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={url}", str(dump)]
    _run(command, env, "pg_restore")


def _run(command: list[str], env: dict[str, str], name: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{name} failed: {last}")


__all__ = ["BackupError", "Summary", "backup", "restore"]
