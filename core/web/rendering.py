"""Page rendering: the Jinja environment with gettext, the local-time filters, and the base context."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from litestar.response import Template
from markupsafe import Markup, escape

from core.billing.models import ChargeKind, Unit
from core.billing.money import format_amount, format_money, format_percent
from core.platform import i18n
from core.platform.clock import local_date, local_datetime
from core.platform.i18n import N_
from core.platform.template_i18n import install_gettext
from core.requests.request_types import RequestTypeRegistry
from core.requests.statuses import Status
from core.web.viewer import Viewer

TEMPLATES = Path(__file__).parent / "templates"


def number(value: float | int) -> str:
    return format_decimal(value, locale=_babel_locale())


def filesize(value: int) -> str:
    """A file's size as people read it: 840 B, 12 kB, 2,4 MB (decimal comma in Swedish)."""
    if value < 1024:
        return f"{value} B"
    if value < 1024 * 1024:
        return f"{-(-value // 1024)} kB"
    return f"{format_decimal(round(value / (1024 * 1024), 1), locale=_babel_locale())} MB"


def _babel_locale() -> str:
    return "sv_SE" if i18n.current_language() == "sv" else "en_GB"


def status_label(value: str) -> str:
    return Status(value).label


STEP_LABELS = {
    "take": N_("Taken"),
    "carry_out": N_("Carried out again"),
    "fulfilment_failed": N_("The automatic step failed"),
    "fulfilment_delayed": N_("The automatic step is delayed; staff alerted"),
    "assign": N_("Passed to a colleague"),
    "reschedule": N_("New date"),
}
"""History rows whose status stays the same say what happened instead (staff see them; customers do not)."""


def step_label(action: str) -> str:
    found = STEP_LABELS.get(action)
    return i18n.gettext(found) if found is not None else action


def status_badge(value: str) -> Markup:
    """A status as a badge; a filter rather than a macro, because every row of every list shows one."""
    return _badge(value, i18n.current_language(), i18n.catalog_generation())


@lru_cache(maxsize=256)
def _badge(value: str, _language: str, _generation: int) -> Markup:
    """One badge per status and language (and catalogs): made once, not escaped again for every row."""
    return Markup('<span class="status status-%s">%s</span>') % (value, Status(value).label)


def type_label(registry: RequestTypeRegistry, key: str) -> str:
    """A request type's name in the viewer's language; the key itself for a type no longer installed."""
    found = registry.get(key)
    return i18n.gettext(found.name) if found is not None else key


def mail_reason(value: str) -> str:
    """Why a mail waits in quarantine, in the viewer's language when it is one of the intake's own reasons."""
    from core.conversation.intake import QUARANTINE_REASONS

    return i18n.gettext(value) if value in QUARANTINE_REASONS else value


def unit_label(value: str) -> str:
    return Unit(value).label if value in Unit._value2member_map_ else value


def charge_kind(value: str) -> str:
    return ChargeKind(value).label if value in ChargeKind._value2member_map_ else value


def build_environment(extra_dirs: list[Path] | None = None) -> Environment:
    loaders = [FileSystemLoader(str(d)) for d in (extra_dirs or [])] + [FileSystemLoader(str(TEMPLATES))]
    environment = Environment(
        loader=ChoiceLoader(loaders),
        auto_reload=False,  # templates ship with the code; checking their files on every page cost time
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    install_gettext(environment)
    environment.filters.update(
        local_datetime=local_datetime,
        local_date=local_date,
        status_label=status_label,
        status_badge=status_badge,
        step_label=step_label,
        number=number,
        filesize=filesize,
        mail_reason=mail_reason,
        money=format_money,
        amount=format_amount,
        percent=format_percent,
        unit_label=unit_label,
        charge_kind=charge_kind,
    )
    environment.globals.update(Status=Status, current_language=i18n.current_language)
    return environment


def csrf_input(viewer: Viewer) -> Markup:
    return Markup('<input type="hidden" name="_csrf" value="%s">') % escape(viewer.csrf)


def page(template: str, viewer: Viewer, *, status_code: int = 200, **context: Any) -> Template:
    return Template(
        template_name=template,
        context={"viewer": viewer, "user": viewer.user, "csrf_field": csrf_input(viewer), **context},
        status_code=status_code,
    )
