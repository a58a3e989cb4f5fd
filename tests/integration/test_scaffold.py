"""``bbportal plugins new``: the package it writes builds as a wheel, installs, registers and passes its tests.

How the wheel is installed and its tests run: ``tests/plugin_packages.py``.
"""

from __future__ import annotations

import ast
import json
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import main
from core.platform.i18n import compile_catalog
from tests.plugin_packages import (
    PORTAL_CATALOG,
    assert_lint_clean,
    assert_swedish_for,
    build_wheel,
    catalog,
    install_wheel,
    isolated_env,
    marked_messages,
    run,
    run_package_tests,
)

KEY = "parking_permit"
PO = f"{KEY}/locale/sv/LC_MESSAGES/{KEY}.po"
FORM_TEMPLATE = f"{KEY}/templates/{KEY}/form.html"


def new(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["plugins", "new", *args])
    return result.exit_code, result.output


def test_refusals(tmp_path: Path) -> None:
    for bad in ("Parking", "parking-permit", "1permit", "_permit", "permit_", "parking__permit", "class", "a" * 41):
        code, output = new(bad, "--directory", str(tmp_path))
        assert code != 0 and "is not a valid key" in output, (bad, output)
    code, output = new("fault_report", "--directory", str(tmp_path))
    assert code != 0 and "'fault_report' is taken: an installed request type" in output
    code, output = new("json", "--directory", str(tmp_path))
    assert code != 0 and "a Python module of that name is already importable" in output
    code, output = new(KEY, "--directory", str(tmp_path), "--name", "two\nlines")
    assert code != 0 and "The name must be one line" in output
    assert list(tmp_path.iterdir()) == []  # nothing written for a refusal

    assert new(KEY, "--directory", str(tmp_path)) == (0, new_output(tmp_path))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, output = new(KEY, "--directory", str(tmp_path), "--name", "Something else")
    assert code != 0 and "exists already" in output
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing overwritten


def new_output(directory: Path) -> str:
    folder = directory / "bbportal-parking-permit"
    return (
        f"Request type {KEY} written to {folder}. Next, with the portal's environment:\n"
        f"  cd {folder}\n"
        "  pip install -e .      # the portal finds the type through its entry point\n"
        "  pytest                # the contract, a request carried out, the start page\n"
    )


def test_the_swedish_name_goes_into_the_catalog(tmp_path: Path) -> None:
    code, output = new(KEY, "--directory", str(tmp_path), "--swedish-name", "Parkeringstillstånd")
    assert code == 0, output
    own = catalog(tmp_path / "bbportal-parking-permit" / PO)
    assert own["Parking permit"].string == "Parkeringstillstånd"
    assert "write it in Swedish" not in (tmp_path / "bbportal-parking-permit" / PO).read_text(encoding="utf-8")
    code, output = new("other_permit", "--directory", str(tmp_path), "--swedish-name", " ")
    assert code != 0 and "The name must be one line" in output


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("request_type", 'Nyckel "extra" & l\'ordre \\ åäö'),  # a class name that would hide core.api's
        ("a" * 40, "x" * 80),  # the longest key and name still fit the line length
        ("door_access", "Request"),  # one of the portal's own msgids, which the portal's catalog translates
    ],
)
def test_odd_keys_and_names_give_clean_code(tmp_path: Path, key: str, name: str) -> None:
    code, output = new(key, "--directory", str(tmp_path / "new"), "--name", name)
    assert code == 0, output
    package = tmp_path / "new" / ("bbportal-" + key.replace("_", "-"))
    assert_lint_clean(package)
    own = catalog(package / key / "locale" / "sv" / "LC_MESSAGES" / f"{key}.po")
    if name in PORTAL_CATALOG:
        assert name not in own  # translating it here would change the portal's word on every page
    else:
        assert own[name].string == name  # a msgid, to be written in Swedish
    module = ast.parse((package / key / "__init__.py").read_text(encoding="utf-8"))
    names = [
        ast.literal_eval(node.value)
        for node in ast.walk(module)
        if isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == ["name"]
    ]
    assert names == [name]
    pyproject = tomllib.loads((package / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == f"{name}: a request type for the BBGRUPPEN Portal"


# The Python run in the wheel's environment: the type is registered through the installed entry point, and
# the texts it shows (name, description, the form's titles and descriptions) are listed for the catalog check.
REGISTRATION = """
import json, sys
from core.plugins import build_registry, create_plugin_manager
manager = create_plugin_manager()
plugin = manager.get_plugin(sys.argv[1])
request_type = build_registry(manager).require(sys.argv[1])
texts = [request_type.name, request_type.description]
for field in request_type.schema.model_fields.values():
    texts += [text for text in (field.title, field.description) if text]
print(json.dumps({"module": plugin.__file__, "type": type(request_type).__name__, "texts": texts}))
"""


def test_the_package_builds_installs_registers_and_passes_its_tests(tmp_path: Path) -> None:
    code, output = new(KEY, "--directory", str(tmp_path))
    assert code == 0, output
    package = tmp_path / "bbportal-parking-permit"
    assert sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()) == [
        ".gitignore",
        "README.md",
        f"{KEY}/__init__.py",
        PO,
        f"{KEY}/schema.py",
        FORM_TEMPLATE,
        "pyproject.toml",
        f"tests/test_{KEY}.py",
    ]
    assert_lint_clean(package)
    # The portal compiles a .po next to itself; a .mo made so in the source folder stays out of the wheel.
    assert compile_catalog(package / KEY / "locale", KEY, "sv") is not None

    wheel = build_wheel(package, tmp_path / "dist")
    assert wheel.name == "bbportal_parking_permit-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = sorted(archive.namelist())
        entry_points = archive.read("bbportal_parking_permit-0.1.0.dist-info/entry_points.txt").decode()
    dist_info = "bbportal_parking_permit-0.1.0.dist-info"
    assert names == sorted(
        [
            f"{KEY}/__init__.py",
            f"{KEY}/schema.py",
            PO,
            FORM_TEMPLATE,
            *(f"{dist_info}/{name}" for name in ("METADATA", "WHEEL", "entry_points.txt", "RECORD")),
        ]
    )
    assert entry_points.split() == ["[bbportal.request_types]", KEY, "=", KEY]

    site = tmp_path / "site"
    install_wheel(wheel, site)

    registered = run(sys.executable, "-c", REGISTRATION, KEY, cwd=tmp_path, env=isolated_env(site))
    assert registered.returncode == 0, registered.stdout + registered.stderr
    found = json.loads(registered.stdout)
    assert found["module"] == str(site / KEY / "__init__.py") and found["type"] == "ParkingPermit"

    # Swedish for every text the type shows and every message its code marks (N_), from the package's catalog
    # or, for the portal's own msgids, from the portal's, which the package's must not translate again.
    marked = marked_messages(package, KEY)
    assert marked[-1].startswith("We check every request"), marked
    assert_swedish_for(package, KEY, [*found["texts"], *marked])

    outcome = run_package_tests(package, site)  # the installed wheel is tested, not the source
    for test in (
        "test_keeps_the_contract",
        "test_the_catalog_is_complete_and_leaves_the_portals_words_alone",
        "test_filed_taken_and_carried_out",
        "test_filed_through_the_form",
        "test_kept_open_while_the_system_does_not_answer",
        "test_fulfil_can_run_again",
        "test_on_the_start_page",
    ):
        assert f"test_{KEY}.py::{test} PASSED" in outcome, outcome
    assert "7 passed" in outcome
    assert (site / KEY / "locale" / "sv" / "LC_MESSAGES" / f"{KEY}.mo").exists()  # compiled where installed
