"""Plugin catalogs: compiled where they are, replaced whole, and still read from a folder that cannot be written."""

from __future__ import annotations

import gettext
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.platform import i18n

PO = """msgid ""
msgstr ""
"Language: sv\\n"
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "Parking permit for the test"
msgstr "Parkeringstillstånd för testet"
"""


@pytest.fixture
def locale_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "locale"
    (folder / "sv" / "LC_MESSAGES").mkdir(parents=True)
    (folder / "sv" / "LC_MESSAGES" / "catalog_test.po").write_text(PO, encoding="utf-8")
    i18n.register_catalog("catalog_test", folder)
    yield folder
    i18n.unregister_catalog("catalog_test")


def swedish(message: str) -> str:
    with i18n.use_language("sv"):
        return i18n.gettext(message)


def test_compiled_next_to_the_po_and_no_partial_file_left(locale_dir: Path) -> None:
    assert swedish("Parking permit for the test") == "Parkeringstillstånd för testet"
    folder = locale_dir / "sv" / "LC_MESSAGES"
    assert sorted(path.name for path in folder.iterdir()) == ["catalog_test.mo", "catalog_test.po"]


def test_a_folder_that_cannot_be_written_is_compiled_in_memory(
    locale_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = i18n.compile_catalog

    def read_only(folder: Path, domain: str, language: str) -> Path | None:
        if folder == locale_dir:
            raise PermissionError(13, "Permission denied", str(folder))
        return real(folder, domain, language)

    monkeypatch.setattr(i18n, "compile_catalog", read_only)
    assert swedish("Parking permit for the test") == "Parkeringstillstånd för testet"
    assert "catalog_test (sv) compiled in memory" in caplog.text
    assert not (locale_dir / "sv" / "LC_MESSAGES" / "catalog_test.mo").exists()


def test_a_compiled_catalog_is_current_by_its_source_not_by_file_times(locale_dir: Path) -> None:
    """An installer may unpack a .po after its .mo (the portal's wheel ships both): that .mo is still current.
    A .mo newer than an edited .po is not."""
    mo = i18n.compile_catalog(locale_dir, "catalog_test", "sv")
    assert mo is not None
    po = mo.with_suffix(".po")
    os.utime(mo, ns=(1, 1))  # older than its .po, as an installer may leave it
    stamp = mo.stat().st_ino
    assert i18n.compile_catalog(locale_dir, "catalog_test", "sv") == mo and mo.stat().st_ino == stamp  # not rewritten

    po.write_text(PO.replace("för testet", "för provet"), encoding="utf-8")
    os.utime(po, ns=(1, 1))  # the edited .po is older than the .mo: it is compiled all the same
    i18n.compile_catalog(locale_dir, "catalog_test", "sv")
    assert mo.stat().st_ino != stamp
    with mo.open("rb") as compiled:
        translated = gettext.GNUTranslations(compiled).gettext("Parking permit for the test")
    assert translated == "Parkeringstillstånd för provet"
