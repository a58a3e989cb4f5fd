"""docs/writing-plugins.md works as written: its tutorial's files, copied over a scaffolded package, give a
package that builds, installs and passes its own tests, and every other example in it is valid code.

The tutorial shows each file whole under a line "`<path>` — the whole file:"; this test writes them over what
``bbportal plugins new parking_permit`` wrote, exactly as a reader would, then builds, installs and tests the
package as ``tests/integration/test_scaffold.py`` does.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner

from core.cli import main
from tests.plugin_packages import (
    REPOSITORY,
    assert_lint_clean,
    assert_swedish_for,
    build_wheel,
    install_wheel,
    marked_messages,
    run_package_tests,
)

GUIDE = REPOSITORY / "docs" / "writing-plugins.md"
WHOLE_FILE = re.compile(r"^`(?P<path>[\w./-]+)` — the whole file:\n\n```[\w+-]*\n(?P<text>.*?)^```$", re.M | re.S)
CODE_BLOCK = re.compile(r"^```(?P<lang>[\w+-]*)\n(?P<text>.*?)^```$", re.M | re.S)
STATED_PASSES = re.compile(r"^pytest +# (\d+) passed$", re.M)
KEY = "parking_permit"
TUTORIAL_FILES = {
    f"{KEY}/__init__.py",
    f"{KEY}/schema.py",
    f"{KEY}/templates/{KEY}/form.html",
    f"{KEY}/locale/sv/LC_MESSAGES/{KEY}.po",
    f"tests/test_{KEY}.py",
}


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def tutorial_files() -> dict[str, str]:
    found = {match["path"]: match["text"] for match in WHOLE_FILE.finditer(guide())}
    assert len(found) == len(WHOLE_FILE.findall(guide())), "a file is shown whole twice"
    return found


def scaffold_command(directory: Path) -> list[str]:
    """Step 1's ``bbportal plugins new …``, as the guide writes it, with its ``--directory`` moved to ``directory``."""
    (line,) = re.findall(r"^bbportal (plugins new .*?)$", guide().replace("\\\n", " "), flags=re.M)
    words = shlex.split(line)
    words[words.index("--directory") + 1] = str(directory)
    return words


def test_the_tutorial_shows_every_file_it_changes() -> None:
    assert set(tutorial_files()) == TUTORIAL_FILES


@pytest.mark.parametrize("number", range(len(CODE_BLOCK.findall(GUIDE.read_text(encoding="utf-8")))))
def test_every_example_is_valid(number: int) -> None:
    """Fragments too: Python compiles, TOML and gettext catalogs parse, nothing is left as a placeholder."""
    block = list(CODE_BLOCK.finditer(guide()))[number]
    language, text = block["lang"], block["text"]
    if language == "python":
        compile(text, f"{GUIDE.name}, block {number}", "exec")
    elif language == "toml":
        tomllib.loads(text)
    elif language == "po":
        assert list(read_po(BytesIO(text.encode()), locale="sv"))
    assert "TODO" not in text and "FIXME" not in text


def test_the_tutorial_gives_a_package_that_passes_its_tests(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, scaffold_command(tmp_path))
    assert result.exit_code == 0, result.output
    package = tmp_path / "bbportal-parking-permit"
    assert "--swedish-name" in scaffold_command(tmp_path)
    scaffolded = {str(path.relative_to(package)) for path in package.rglob("*") if path.is_file()}
    assert scaffolded >= TUTORIAL_FILES, "the tutorial changes a file the scaffold does not write"
    for relative, text in tutorial_files().items():
        (package / relative).write_text(text, encoding="utf-8")
    assert_lint_clean(package, portal_settings=False)

    # Swedish for every message the code marks and every text of the template, from the package's catalog or
    # the portal's; the package's catalog does not translate the portal's msgids again.
    marked = marked_messages(package, KEY)
    assert len(marked) > 10
    assert_swedish_for(package, KEY, marked)

    wheel = build_wheel(package, tmp_path / "dist")
    site = tmp_path / "site"
    install_wheel(wheel, site)
    outcome = run_package_tests(package, site)
    scaffold, finished = STATED_PASSES.findall(guide())  # step 1 and step 7 say how many pass
    assert scaffold == "7"  # what tests/integration/test_scaffold.py checks
    assert f"{finished} passed" in outcome, outcome
    assert "test_keeps_the_contract PASSED" in outcome and "test_the_holder_gets_the_garage PASSED" in outcome
