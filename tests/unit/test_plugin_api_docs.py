"""The plugin API reference (docs/plugin-api.md) covers every name a plugin may import, and says the truth.

Every name of ``core.api.__all__`` and ``core.testing.__all__`` and every fixture of the test kit has a
``### `NAME`` section stating its stability; the functions' and the contexts' signatures in the stubs match
the code; the adapter section covers every ``AccessControl`` method; every system kind and status value is
there; the message ids a plugin must not re-translate are the core catalog's.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

import core
import core.api
import core.testing
from core.access_control import AccessControl
from core.api import Database, FormContext, FulfilmentContext, HookContext, Portal, RequestType, Status, SystemKind
from core.requests.statuses import LABELS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugin-api.md"
FIXTURES = ROOT / "core" / "testing" / "fixtures.py"
CORE_CATALOG = ROOT / "core" / "locale" / "sv" / "LC_MESSAGES" / "bbportal.po"
ADAPTER_SECTION = "## The access-control adapter"
MSGID_SECTION = "## Message ids you must not re-translate"

PROVISIONAL = frozenset(
    {
        "HousekeepingContext",
        "HttpRequest",
        "Mutation",
        "Portal",
        "anonymous_page",
        "database_factory",
        "mutations",
        "payloads",
        "portal_of",
        "render_page",
        "require_customer",
        "require_user",
        "secret_path",
        "viewer_of",
    }
)
"""The names documented as provisional; every other name is stable. Changing this set is a decision."""


def kit_fixtures() -> list[str]:
    """The functions of core/testing/fixtures.py decorated with ``pytest.fixture`` (or ``pytest.fixture(...)``)."""
    names = []
    for node in ast.parse(FIXTURES.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(target, ast.Attribute) and target.attr == "fixture":
                keywords = decorator.keywords if isinstance(decorator, ast.Call) else []
                renamed = [k.value.value for k in keywords if k.arg == "name" and isinstance(k.value, ast.Constant)]
                names.append(str(renamed[0]) if renamed else node.name)
    return names


API_NAMES = sorted(core.api.__all__)
KIT_NAMES = sorted(core.testing.__all__)
FIXTURE_NAMES = kit_fixtures()
ALL_NAMES = sorted({*API_NAMES, *KIT_NAMES, *FIXTURE_NAMES})


def text() -> str:
    return DOCS.read_text(encoding="utf-8")


def heading(name: str) -> re.Pattern[str]:
    """``### `NAME`` followed by a character that cannot continue the name (a backtick, ``(``, a space …)."""
    return re.compile(rf"^### `{re.escape(name)}(?![A-Za-z0-9_])", flags=re.MULTILINE)


def section_of(name: str) -> str:
    """The text from the name's heading to the next ``##`` or ``###`` heading."""
    doc = text()
    found = heading(name).search(doc)
    assert found is not None, f"docs/plugin-api.md has no '### `{name}' heading"
    end = re.compile(r"^#{2,3} ", flags=re.MULTILINE).search(doc, found.end())
    return doc[found.start() : end.start() if end else len(doc)]


def part(title: str) -> str:
    """A ``## `` part of the page, up to the next ``## ``."""
    doc = text()
    start = doc.index(title + "\n")
    end = doc.find("\n## ", start + len(title))
    return doc[start : end if end != -1 else len(doc)]


def compact(value: str) -> str:
    """No whitespace, one kind of quote, no trailing comma before a closing parenthesis."""
    return re.sub(r"\s+", "", value).replace("'", '"').replace(",)", ")")


class _Annotation:
    """An annotation kept as the source text (the modules use ``from __future__ import annotations``)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __repr__(self) -> str:
        return self.source


def _raw(annotation: Any) -> Any:
    return _Annotation(annotation) if isinstance(annotation, str) else annotation


def stub(name: str, function: Callable[..., Any]) -> str:
    """``def name(<parameters>) -> <return>: ...`` with the annotations as written in the code."""
    signature = inspect.signature(function)
    parameters = [p.replace(annotation=_raw(p.annotation)) for p in signature.parameters.values()]
    signature = signature.replace(parameters=parameters, return_annotation=_raw(signature.return_annotation))
    return f"def {name}{signature}: ..."


def exported_functions() -> list[tuple[str, Callable[..., Any]]]:
    found = []
    for module in (core.api, core.testing):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isfunction(value):
                found.append((name, value))
    return found


def documented_methods() -> list[tuple[str, str, Callable[..., Any]]]:
    """Every public method of the contexts, the descriptor and the adapter, and the members named in the doc."""
    found = []
    for cls in (RequestType, FormContext, FulfilmentContext, HookContext, AccessControl):
        for name, value in vars(cls).items():
            if not name.startswith("_") and inspect.isfunction(value):
                found.append((cls.__name__, name, value))
    found.append(("Portal", "access_control", Portal.access_control))
    found.append(("Database", "reading", Database.reading))
    found.append(("Database", "writing", Database.writing))
    return found


def adapter_methods() -> list[str]:
    return sorted(name for name, value in vars(AccessControl).items() if not name.startswith("_") and callable(value))


def test_there_is_something_to_check() -> None:
    assert "RequestType" in API_NAMES
    assert "check_request_type" in KIT_NAMES
    assert {"database", "clock", "portal", "world", "web", "customer_web", "staff_web"} <= set(FIXTURE_NAMES)
    assert "block_tag" in adapter_methods()


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_name_has_a_section(name: str) -> None:
    assert heading(name).search(text()), f"docs/plugin-api.md has no '### `{name}' section"


def test_the_reference_documents_no_name_that_is_not_exported() -> None:
    documented = set(re.findall(r"^### `([A-Za-z_][A-Za-z0-9_]*)", text(), flags=re.MULTILINE))
    assert documented <= set(ALL_NAMES), f"sections for names that are not exported: {documented - set(ALL_NAMES)}"


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_section_states_its_stability(name: str) -> None:
    section = section_of(name)
    stable, provisional = "Stability: **stable**" in section, "Stability: **provisional**" in section
    assert stable != provisional, f"the section of {name} must say 'Stability: **stable**' or '… **provisional**'"
    wanted = "provisional" if name in PROVISIONAL else "stable"
    assert provisional if wanted == "provisional" else stable, f"{name} is documented, but not as {wanted}"


@pytest.mark.parametrize(("name", "function"), [pytest.param(*found, id=found[0]) for found in exported_functions()])
def test_every_function_stub_matches_the_code(name: str, function: Callable[..., Any]) -> None:
    expected = stub(name, function)
    assert compact(expected) in compact(text()), f"docs/plugin-api.md should show: {expected}"


@pytest.mark.parametrize(
    ("owner", "name", "method"), [pytest.param(*found, id=f"{found[0]}.{found[1]}") for found in documented_methods()]
)
def test_every_method_stub_matches_the_code(owner: str, name: str, method: Callable[..., Any]) -> None:
    expected = stub(name, method)
    assert compact(expected) in compact(text()), f"docs/plugin-api.md should show, under {owner}: {expected}"


@pytest.mark.parametrize("method", adapter_methods())
def test_every_adapter_method_has_an_entry_in_the_adapter_section(method: str) -> None:
    section = part(ADAPTER_SECTION)
    entry = re.compile(
        rf"(^#{{2,6}} .*`{re.escape(method)}[(`])|(\*\*`?{re.escape(method)}(?![A-Za-z0-9_]))", flags=re.MULTILINE
    )
    assert entry.search(section), f"the adapter section has no heading or bold entry for {method}"


@pytest.mark.parametrize("value", [kind.value for kind in SystemKind] + [status.value for status in Status])
def test_every_system_kind_and_status_value_appears(value: str) -> None:
    assert f"`{value}`" in text(), f"docs/plugin-api.md never names `{value}`"


def test_the_message_ids_are_the_core_catalogs() -> None:
    catalog = read_po(CORE_CATALOG.open("rb"))
    rows = re.findall(r"^\| `([^`]+)` \| (.+?) \|$", part(MSGID_SECTION), flags=re.MULTILINE)
    assert rows, "the message-id section has no table rows"
    for msgid, swedish in rows:
        message = catalog.get(msgid)
        assert message is not None and message.string, f"{msgid!r} is not translated in the core's catalog"
        assert message.string == swedish, f"{msgid!r} is {message.string!r} in the core's catalog, not {swedish!r}"
    listed = {msgid for msgid, _swedish in rows}
    status_labels = {label.message for label in LABELS.values()}
    assert status_labels <= listed, f"status labels missing from the table: {status_labels - listed}"


def test_the_core_package_is_marked_typed() -> None:
    assert (Path(core.__file__).parent / "py.typed").is_file()
