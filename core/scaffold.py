"""``bbportal plugins new``: write a new request-type package, ready to install, test and build as a wheel.

The package is what a third party ships: a ``pyproject.toml`` with the ``bbportal.request_types`` entry
point, the type (``<key>/__init__.py``) and its form (``<key>/schema.py``) importing only ``core.api``, the
form page's guidance (``<key>/templates/<key>/form.html``), a Swedish catalog, tests that use only the test
kit (``core.testing`` and its pytest fixtures) and a README. The files are Jinja templates in
``core/scaffold_templates/`` (shipped in the portal's wheel with the rest of ``core``); they end in ``.jinja``
so that no tool takes them for the portal's own code.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.platform.i18n import core_msgids

TEMPLATES = Path(__file__).parent / "scaffold_templates"

KEY = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
KEY_MAX_LENGTH = 40
NAME_MAX_LENGTH = 80

# Names the generated modules import or define: a class named after the key must not hide one of them.
TAKEN_CLASS_NAMES = frozenset(
    {
        "AccessControlError",
        "BaseModel",
        "ConfigDict",
        "Field",
        "FulfilmentContext",
        "FulfilmentMode",
        "FulfilmentResult",
        "Path",
        "Portal",
        "RequestType",
        "RequestView",
        "SystemKind",
        "WebClient",
        "World",
    }
)

# (template, where it goes in the package; {key} is the request type's key)
FILES = (
    ("pyproject.toml.jinja", "pyproject.toml"),
    ("README.md.jinja", "README.md"),
    ("gitignore.jinja", ".gitignore"),
    ("package/__init__.py.jinja", "{key}/__init__.py"),
    ("package/schema.py.jinja", "{key}/schema.py"),
    ("package/catalog.po.jinja", "{key}/locale/sv/LC_MESSAGES/{key}.po"),
    ("package/form.html.jinja", "{key}/templates/{key}/form.html"),
    ("tests/test_type.py.jinja", "tests/test_{key}.py"),
)


class ScaffoldRefused(ValueError):
    """The key, the name or the target folder does not allow a new package; the message says why."""


def package_folder_name(key: str) -> str:
    """``parking_permit`` → ``bbportal-parking-permit`` (the distribution's name, and its folder's)."""
    return "bbportal-" + key.replace("_", "-")


def class_name(key: str) -> str:
    """``parking_permit`` → ``ParkingPermit``; ``ParkingPermitType`` when that would hide an imported name."""
    name = "".join(part[:1].upper() + part[1:] for part in key.split("_"))
    return f"{name}Type" if name in TAKEN_CLASS_NAMES else name


def installed_keys() -> set[str]:
    """The keys of the installed request types, and the names of the entry points they come through."""
    from importlib.metadata import entry_points

    from core.platform.errors import ConfigurationError
    from core.plugins import ENTRY_POINT_GROUP, build_registry, create_plugin_manager

    names = {entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)}
    with suppress(ConfigurationError):  # a broken plugin is not this command's business; its name is known
        names.update(request_type.key for request_type in build_registry(create_plugin_manager()))
    return names


def check_key(key: str, installed: Iterable[str] | None = None) -> None:
    """Refuse a key that is not lower snake case, is taken by an installed type, or names an existing module.

    ``installed``: the keys taken (default: :func:`installed_keys`, asked only for a key of the right form).
    """
    if not KEY.fullmatch(key) or len(key) > KEY_MAX_LENGTH or keyword.iskeyword(key):
        raise ScaffoldRefused(
            f"{key!r} is not a valid key: use lower snake case, a Python identifier of at most {KEY_MAX_LENGTH} "
            "characters that starts with a letter, e.g. parking_permit."
        )
    if key in set(installed_keys() if installed is None else installed):
        raise ScaffoldRefused(f"{key!r} is taken: an installed request type or plugin already uses it.")
    try:
        module = importlib.util.find_spec(key)
    except (ImportError, ValueError):
        module = None
    if module is not None:
        where = module.origin or ", ".join(module.submodule_search_locations or [])
        raise ScaffoldRefused(
            f"{key!r} is taken: a Python module of that name is already importable ({where}), "
            "and the package's module is named after the key."
        )


def check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > NAME_MAX_LENGTH or any(not ch.isprintable() for ch in cleaned):
        raise ScaffoldRefused(
            f"The name must be one line of printable text, 1 to {NAME_MAX_LENGTH} characters (got {name!r})."
        )
    return cleaned


def python_string(text: str) -> str:
    """A Python string literal for ``text``, quoted the way ``ruff format`` leaves it (double quotes unless
    single ones need fewer escapes)."""
    quote = '"' if text.count('"') <= text.count("'") else "'"
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def quoted(text: str) -> str:
    """The text in double quotes, its backslashes and double quotes escaped: a string as a gettext catalog and
    TOML both write it (a name has no line breaks or other control characters: :func:`check_name` sees to it)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_files(key: str, name: str, swedish_name: str | None = None) -> dict[str, str]:
    """The package's files (path relative to its folder → text), for a checked key and names."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters.update(py=python_string, po=quoted, toml=quoted)
    values = {
        "key": key,
        "name": name,
        "distribution": package_folder_name(key),
        "class_name": class_name(key),
        "form_name": f"{class_name(key)}Form",
        "name_is_the_portals": name in core_msgids(),
        "swedish_name": swedish_name or name,
        "swedish_name_given": swedish_name is not None,
    }
    return {target.format(key=key): environment.get_template(template).render(values) for template, target in FILES}


def write_plugin_package(key: str, target: Path, name: str | None, swedish_name: str | None = None) -> Path:
    """Write the package ``bbportal-<key>`` into the folder ``target`` (made when missing); returns its folder.

    ``name`` is the type's display name, an English msgid (default: from the key, ``Parking permit``);
    ``swedish_name`` its Swedish, for the catalog (default: the English name, with a note to translate it).
    Raises :class:`ScaffoldRefused` for a key that is not lower snake case, one an installed type or plugin
    uses, or one that names an importable module; for a bad name; and when the package's folder exists.
    """
    check_key(key)
    display_name = check_name(name if name is not None else key.replace("_", " ").capitalize())
    folder = Path(target) / package_folder_name(key)
    if folder.parent.exists() and not folder.parent.is_dir():
        raise ScaffoldRefused(f"{folder.parent} is not a folder.")
    if folder.exists():
        raise ScaffoldRefused(f"{folder} exists already; choose another --directory or remove it first.")
    swedish = check_name(swedish_name) if swedish_name is not None else None
    files = render_files(key, display_name, swedish)  # every template rendered before anything is written
    if not folder.parent.is_dir():
        folder.parent.mkdir(parents=True)
    folder.mkdir()
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder
