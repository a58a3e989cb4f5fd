"""Showing what a request stored, under the schema version it was filed with, or raw if its type is gone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.platform.i18n import gettext as _
from core.requests.fields import display_phone
from core.requests.forms import FormField, build_fields
from core.requests.request_types import Choice, RequestType

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.models import Request
    from core.platform.clock import Clock
    from core.requests.context import AdapterLookup


@dataclass
class DisplayRow:
    label: str
    value: str
    multiline: bool = False
    field: str = ""
    """The schema field it shows (a page puts a file field's files here)."""


def display_rows(
    request_type: RequestType | None,
    schema_version: int,
    data: Mapping[str, Any],
    system_name: str = "",
    choices: Mapping[str, list[Choice]] | None = None,
) -> list[DisplayRow]:
    if request_type is None or request_type.version != schema_version:
        return _raw_rows(data)
    return _rows(build_fields(request_type.schema, choices), data, system_name, request_type.system_field)


def request_rows(
    session: Session,
    request: Request,
    request_type: RequestType | None,
    clock: Clock,
    access_control_for: AdapterLookup | None = None,
) -> list[DisplayRow]:
    """The rows of a stored request, with render-time choices (stores, holders …) shown by their labels.

    ``access_control_for`` lets choices that come from the hosted system (a holder, a door-phone entry) be
    named; without it, or when the system does not answer, the stored value is shown.
    """
    from core.models import Organisation, System, User
    from core.requests.context import form_context_for
    from core.requests.forms import render_choices

    system = session.get(System, request.system_id) if request.system_id else None
    choices: dict[str, list[Choice]] = {}
    requester = session.get(User, request.requester_id)
    if request_type is not None and request_type.version == request.schema_version and requester is not None:
        context = form_context_for(
            session=session,
            user=requester,
            organisation=session.get(Organisation, request.organisation_id),
            clock=clock,
            access_control_for=access_control_for,
            for_display=True,
        )
        choices = render_choices(request_type, request_type.schema, context)
    return display_rows(request_type, request.schema_version, request.data, system.name if system else "", choices)


def _rows(
    fields: list[FormField], data: Mapping[str, Any], system_name: str, system_field: str | None
) -> list[DisplayRow]:
    rows: list[DisplayRow] = []
    for form_field in fields:
        key = form_field.name.rsplit(".", 1)[-1]
        if key not in data or data[key] in (None, "", []):
            continue
        value = data[key]
        if form_field.kind == "variant" and isinstance(value, Mapping):
            chosen = str(value.get(form_field.discriminator, ""))
            variant = next((v for v in form_field.variants if v.value == chosen), None)
            rows.append(DisplayRow(form_field.label, variant.label if variant else chosen))
            if variant:
                rows.extend(_rows(variant.fields, value, system_name, system_field))
            continue
        if key == system_field and system_name:
            text = system_name
        elif form_field.kind == "checkbox":
            text = _("Yes") if value else _("No")
        elif form_field.kind == "multichoice" and isinstance(value, list):
            labels = {o.value: o.label for o in form_field.options}
            text = ", ".join(labels.get(str(item), str(item)) for item in value)
        elif form_field.options:
            text = next((o.label for o in form_field.options if o.value == str(value)), str(value))
        elif form_field.kind == "tel":
            text = display_phone(str(value))  # stored as +46701234567, read as 070-123 45 67
        elif form_field.kind == "file" and isinstance(value, list):
            text = ", ".join(str(name) for name in value)
        else:
            text = str(value)
        rows.append(DisplayRow(form_field.label, text, form_field.kind == "textarea", form_field.name))
    return rows


def _raw_rows(data: Mapping[str, Any], prefix: str = "") -> list[DisplayRow]:
    rows: list[DisplayRow] = []
    for key, value in data.items():
        label = prefix + key.replace("_", " ").capitalize()
        if isinstance(value, Mapping):
            rows.extend(_raw_rows(value, label + " › "))
        else:
            rows.append(DisplayRow(label, "" if value is None else str(value), "\n" in str(value)))
    return rows
