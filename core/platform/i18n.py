"""Gettext translations (Babel catalogs) for the core and for each plugin that ships its own."""

from __future__ import annotations

import contextvars
import gettext as _gettext
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, cast

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("sv", "en")
CORE_DOMAIN = "bbportal"
CORE_LOCALE_DIR = Path(__file__).parent.parent / "locale"

_current_language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="sv")
_plugin_catalogs: dict[str, Path] = {}
_generation = 0
"""Raised by every change of the registered catalogs; the caches of translations are keyed by it."""
log = logging.getLogger(__name__)


def register_catalog(domain: str, locale_dir: Path) -> None:
    """A plugin's own catalog: its msgids are looked up there before the core's."""
    global _generation
    if _plugin_catalogs.get(domain) != locale_dir:
        _plugin_catalogs[domain] = locale_dir
        _generation += 1  # the cached chains are keyed by it: the next lookup builds them again


def unregister_catalog(domain: str) -> None:
    """Forget a plugin's catalog (a test's plugin, once the test is over)."""
    global _generation
    if _plugin_catalogs.pop(domain, None) is not None:
        _generation += 1


def po_path(locale_dir: Path, domain: str, language: str) -> Path:
    """Where gettext keeps a domain's catalog for a language: ``<locale_dir>/<language>/LC_MESSAGES/<domain>.po``."""
    return locale_dir / language / "LC_MESSAGES" / f"{domain}.po"


def compile_catalog(locale_dir: Path, domain: str, language: str) -> Path | None:
    """Compile ``.po`` to ``.mo`` unless the ``.mo`` beside it was compiled from this very ``.po`` (install and
    start call this; the portal's wheel ships its catalogs compiled, so an installed portal compiles nothing).

    Raises ``OSError`` when the folder cannot be written (a package installed read-only): :func:`_catalog` then
    compiles in memory.
    """
    po = po_path(locale_dir, domain, language)
    mo = po.with_suffix(".mo")
    if not po.exists():
        return None
    if not is_current(po, mo):
        write_catalog(po, mo, domain, language)
    return mo


SOURCE_HEADER = "X-Source-SHA256"
"""The ``.mo`` header naming the digest of the ``.po`` it was compiled from."""


def is_current(po: Path, mo: Path) -> bool:
    """Whether ``mo`` was compiled from ``po`` as it is now: its :data:`SOURCE_HEADER` is ``po``'s digest.

    Not by modification times: an installer unpacks a wheel's ``.po`` and ``.mo`` in whatever order it likes,
    and a checkout gives every file the moment of checkout.
    """
    try:
        with mo.open("rb") as source:
            stamp = _gettext.GNUTranslations(source).info().get(SOURCE_HEADER.lower())
    except OSError:  # missing, or not a catalog (a half-written file of an older version)
        return False
    return stamp == _digest(po.read_bytes())


def write_catalog(po: Path, mo: Path, domain: str, language: str) -> None:
    """``po`` compiled into ``mo``, stamped with the digest of ``po`` (the wheel's build hook calls this too).

    The ``.mo`` is written beside a temporary name and renamed over the old one, so a process starting at the
    same moment reads either the old catalog or the new one, never half of one.
    """
    partial = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
    try:
        with partial.open("wb") as target:
            _write_stamped(target, po, domain, language)
        os.replace(partial, mo)
    finally:
        partial.unlink(missing_ok=True)


def _write_stamped(target: BinaryIO, po: Path, domain: str, language: str) -> None:
    source = po.read_bytes()
    catalog = read_po(BytesIO(source), locale=language, domain=domain)
    write_mo(target, cast(Catalog, _Stamped(catalog, _digest(source))))


class _Stamped:
    """A catalog whose header also names its source's digest, for ``write_mo`` (which reads only the messages
    and the charset; Babel's ``Catalog`` keeps no header it does not know)."""

    def __init__(self, catalog: Catalog, digest: str) -> None:
        self.catalog = catalog
        self.digest = digest
        self.charset = catalog.charset

    def __iter__(self) -> Iterator[Message]:
        messages = iter(self.catalog)
        header = next(messages)
        header.string = f"{str(header.string).rstrip()}\n{SOURCE_HEADER}: {self.digest}\n"
        yield header
        yield from messages


def _digest(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()


def _read_po(po: Path, domain: str, language: str) -> Catalog:
    with po.open("rb") as source:
        return read_po(source, locale=language, domain=domain)


@lru_cache(maxsize=1)
def core_msgids() -> frozenset[str]:
    """The msgids of the core's Swedish catalog: a plugin's catalog must not translate them again."""
    po = po_path(CORE_LOCALE_DIR, CORE_DOMAIN, "sv")
    if not po.exists():
        return frozenset()
    return frozenset(
        message.id for message in _read_po(po, CORE_DOMAIN, "sv") if isinstance(message.id, str) and message.id
    )


def _load(mo: Path | None) -> _gettext.NullTranslations:
    if mo is None:
        return _gettext.NullTranslations()
    with mo.open("rb") as source:
        return _gettext.GNUTranslations(source)


def _catalog(locale_dir: Path, domain: str, language: str) -> _gettext.NullTranslations:
    """The compiled catalog; compiled in memory when its folder is read-only (a site-packages owned by root,
    an image's read-only layer), where a ``.mo`` left over from an older ``.po`` would otherwise win."""
    try:
        return _load(compile_catalog(locale_dir, domain, language))
    except OSError as exc:
        log.warning("catalog %s (%s) compiled in memory: %s is not writable (%s)", domain, language, locale_dir, exc)
        compiled = BytesIO()
        _write_stamped(compiled, po_path(locale_dir, domain, language), domain, language)
        compiled.seek(0)
        return _gettext.GNUTranslations(compiled)


@lru_cache(maxsize=16)
def _chain(language: str, generation: int) -> _gettext.NullTranslations:
    """Plugin catalogs first (newest registration first), the core's catalog last."""
    chain = _catalog(CORE_LOCALE_DIR, CORE_DOMAIN, language)
    for domain, locale_dir in _plugin_catalogs.items():
        plugin = _catalog(locale_dir, domain, language)
        plugin.add_fallback(chain)
        chain = plugin
    return chain


@lru_cache(maxsize=16)
def _messages(language: str, generation: int) -> dict[str, str]:
    """The chain's singular messages flattened into one dict, with the chain's precedence.

    A page looks up about a hundred messages; walking eight fallback catalogs for each cost a tenth of a
    page's time. Plural forms (rare) still go through the chain.
    """
    merged: dict[str, str] = {}
    link: _gettext.NullTranslations | None = _chain(language, generation)
    layers: list[dict[object, str]] = []
    while link is not None:
        layers.append(getattr(link, "_catalog", {}))
        link = getattr(link, "_fallback", None)
    for layer in reversed(layers):  # the core's first, so that plugins (nearer the head) win
        merged.update((key, text) for key, text in layer.items() if isinstance(key, str) and key)
    return merged


def catalog_generation() -> int:
    """Raised by every change of the registered catalogs: part of the key of anything cached per translation."""
    return _generation


def translations(language: str) -> _gettext.NullTranslations:
    return _chain(language, _generation)


def current_language() -> str:
    return _current_language.get()


@contextmanager
def use_language(language: str) -> Iterator[None]:
    token = _current_language.set(language if language in LANGUAGES else "sv")
    try:
        yield
    finally:
        _current_language.reset(token)


def set_language(language: str) -> None:
    _current_language.set(language if language in LANGUAGES else "sv")


def gettext(message: str, **params: object) -> str:
    text = _messages(_current_language.get(), _generation).get(message, message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = translations(current_language()).ngettext(singular, plural, n)
    return text % params if params else text


class LazyString:
    """A message translated when it is turned into text, in the language in force at that moment."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __str__(self) -> str:
        return gettext(self.message)

    def __repr__(self) -> str:
        return f"LazyString({self.message!r})"

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


def lazy_gettext(message: str) -> LazyString:
    return LazyString(message)


_ = gettext


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated later, where it is shown."""
    return message


def compile_registered() -> list[Path]:
    """Compile the core's catalog and every registered plugin's (``core.plugins.compile_catalogs`` registers them)."""
    compiled = []
    for domain, locale_dir in [(CORE_DOMAIN, CORE_LOCALE_DIR), *_plugin_catalogs.items()]:
        for language in LANGUAGES:
            mo = compile_catalog(locale_dir, domain, language)
            if mo is not None:
                compiled.append(mo)
    return compiled
