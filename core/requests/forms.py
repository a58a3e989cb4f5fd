"""Forms generated from a request type's schema: fields to render, form data to validate, errors to show.

The schema's JSON Schema drives the fields, so what a browser sees, what the API documents and what
validation enforces come from one Pydantic model. Variants (a discriminated union) render as a choice
plus the variant's fields right under its radio button; every variant's fields are in the page and the
stylesheet hides those of the unchosen ones, so switching works without JavaScript. A list of choices
(``list[str]`` with render-time or fixed options) renders as a group of checkboxes.
A field marked as a file field (:func:`core.requests.fields.file_upload`) is a file input; its value in the stored
data is the list of the stored files' names, filled in by the core from the upload, never from form text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from core.platform.i18n import N_
from core.platform.i18n import gettext as _
from core.requests.request_types import Choice, RequestType

Kind = str  # text, textarea, select, multichoice, date, datetime, checkbox, number, email, tel, variant, file


@dataclass
class Variant:
    value: str
    label: str
    fields: list[FormField]


@dataclass
class FormField:
    name: str
    """Form name: ``field`` or ``variantfield.subfield``."""
    kind: Kind
    label: str
    help: str = ""
    required: bool = False
    options: list[Choice] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    choices_source: str | None = None
    variants: list[Variant] = field(default_factory=list)
    discriminator: str = ""
    default: str | None = None
    """The schema's default, shown when the form is first opened."""
    accept: str = ""
    """File fields: the browser's ``accept`` filter (``image/*``); the content is checked on upload anyway."""
    max_files: int | None = None
    """File fields: how many files the field takes."""
    depends_on: str | None = None
    """The form path of the field whose chosen value narrows this field's options (see :func:`narrow`)."""
    refresh_label: str = ""
    """Set when changing this field updates the form (another field depends on it, or the schema says so):
    the label of the button that does it without JavaScript, already translated."""
    waiting_for: str = ""
    """The label of the field to choose first, while the one this field depends on has no value."""
    kept: list[Any] = field(default_factory=list)
    """File fields: the files chosen before an error, kept (:class:`core.requests.kept_files.KeptFile`)."""

    @property
    def images_only(self) -> bool:
        return self.kind == "file" and self.accept.startswith("image/")

    @property
    def dom_id(self) -> str:
        return "f-" + self.name.replace(".", "-").replace("_", "-")

    @property
    def option_groups(self) -> list[tuple[str, list[tuple[int, Choice]]]]:
        """The options by their ``group``, in order of first appearance, each with a running number for its id."""
        groups: dict[str, list[tuple[int, Choice]]] = {}
        for number, option in enumerate(self.options, start=1):
            groups.setdefault(option.group, []).append((number, option))
        return list(groups.items())

    def unlisted(self, value: str | list[str] | None) -> list[str]:
        """Submitted values that are not among the options now (the system did not answer): shown, not lost."""
        chosen = value if isinstance(value, list) else [value] if value else []
        listed = {option.value for option in self.options}
        return [item for item in chosen if item not in listed]


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        resolved = dict(schema.get("$defs", {}).get(name, {}))
        return {**resolved, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _unwrap_optional(schema: dict[str, Any], node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    options = node.get("anyOf")
    if options and any(o.get("type") == "null" for o in options):
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) == 1:
            inner = _resolve(schema, rest[0])
            merged = {**inner, **{k: v for k, v in node.items() if k not in ("anyOf", "default")}}
            return merged, True
    return node, False


def _kind_of(node: dict[str, Any]) -> Kind:
    if node.get("widget") == "file":
        return "file"
    if node.get("oneOf") and node.get("discriminator"):
        return "variant"
    if node.get("type") == "array" and (node.get("choices") or "enum" in node.get("items", {})):
        return "multichoice"
    if "enum" in node or node.get("choices"):
        return "select"
    json_type = node.get("type")
    fmt = node.get("format")
    if json_type == "boolean":
        return "checkbox"
    if json_type in ("integer", "number"):
        return "number"
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    if fmt == "email":
        return "email"
    if fmt == "phone":
        return "tel"
    if node.get("widget") == "textarea":
        return "textarea"
    return "text"


def _enum_labels(node: dict[str, Any]) -> list[Choice]:
    labels = node.get("enum_labels", {})
    values = node.get("enum", node.get("items", {}).get("enum", []))
    return [Choice(str(value), _(labels.get(str(value), str(value)))) for value in values]


def _default(raw: dict[str, Any], prop: dict[str, Any]) -> str | None:
    value = raw.get("default", prop.get("default"))
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "on" if value else None
    return str(value)


@lru_cache(maxsize=256)
def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON Schema, computed once per model (Pydantic builds it anew on every call)."""
    return model.model_json_schema()


def build_fields(
    model: type[BaseModel], choices: Mapping[str, list[Choice]] | None = None, prefix: str = ""
) -> list[FormField]:
    """The fields of ``model`` in declaration order, labels translated into the current language."""
    schema = json_schema(model)
    return _fields_of(schema, schema, choices or {}, prefix)


def _fields_of(
    root: dict[str, Any],
    node: dict[str, Any],
    choices: Mapping[str, list[Choice]],
    prefix: str,
    skip: str = "",
) -> list[FormField]:
    required = set(node.get("required", []))
    result: list[FormField] = []
    for name, raw in node.get("properties", {}).items():
        if name == skip:
            continue
        prop, optional = _unwrap_optional(root, _resolve(root, raw))
        if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
            prop = {**prop, "items": _resolve(root, prop["items"])}
        kind = _kind_of(prop)
        path = f"{prefix}{name}"
        form_field = FormField(
            name=path,
            kind=kind,
            label=_(prop.get("title", name)),
            help=_(prop["description"]) if prop.get("description") else "",
            required=name in required and not optional and kind != "checkbox",
            minimum=prop.get("minimum"),
            maximum=prop.get("maximum"),
            max_length=prop.get("maxLength", prop.get("maxItems")),
            choices_source=prop.get("choices"),
            default=_default(raw, prop),
            depends_on=prop.get("depends_on"),
            refresh_label=_(str(prop.get("refresh_label"))) if prop.get("refresh_label") else "",
        )
        if kind == "file":
            form_field.accept = str(prop.get("accept", ""))
            form_field.max_files = prop.get("max_files") or prop.get("maxItems")
            form_field.required = False
        if kind in ("select", "multichoice"):
            form_field.options = list(choices.get(path, [])) if prop.get("choices") else _enum_labels(prop)
        if kind == "variant":
            form_field.discriminator = prop["discriminator"]["propertyName"]
            for option in prop["oneOf"]:
                variant_node = _resolve(root, option)
                tag = variant_node["properties"][form_field.discriminator]
                value = tag.get("const") or tag.get("enum", [""])[0]
                form_field.variants.append(
                    Variant(
                        value=str(value),
                        label=_(variant_node.get("title", str(value))),
                        fields=_fields_of(root, variant_node, choices, f"{path}.", skip=form_field.discriminator),
                    )
                )
        result.append(form_field)
    return result


def render_choices(request_type: RequestType, model: type[BaseModel], context: Any) -> dict[str, list[Choice]]:
    """Ask the request type for the options of every field marked as filled at render time."""
    found: dict[str, list[Choice]] = {}
    for form_field in _walk(build_fields(model)):
        if form_field.choices_source:
            options = request_type.choices(form_field.name, context)
            found[form_field.name] = options or []
    return found


SYSTEMS = "systems"
"""The render-time choices of a type's system field; a field that depends on it updates through "Välj system"."""
CHOOSE_SYSTEM = N_("Choose system")
UPDATE_FORM = N_("Update the form")
REFRESH = "refresh:"
"""The ``step`` of a post that only updates the form after a choice (``refresh:system_id``): nothing is filed."""


def narrow(fields: list[FormField], values: Mapping[str, Any]) -> list[FormField]:
    """Offer in each dependent field only the options of the value chosen in the field it depends on.

    The one mechanism every form uses for choices that follow another choice (a system's holders, tags,
    doors, groups): the request type gives every option with its :attr:`Choice.parent`, the core keeps those
    of the chosen value. While nothing is chosen there, the field offers nothing and says what to choose
    first. A field others depend on gets its update button's label. ``fields`` are changed in place.
    """
    flat = _walk(fields)
    by_name = {form_field.name: form_field for form_field in flat}
    for form_field in flat:
        if not form_field.depends_on:
            continue
        controlling = by_name.get(form_field.depends_on)
        if controlling is not None and not controlling.refresh_label:
            label = CHOOSE_SYSTEM if controlling.choices_source == SYSTEMS else UPDATE_FORM
            controlling.refresh_label = _(label)
        chosen = str(_one(values.get(form_field.depends_on)) or "")
        kept = [o for o in form_field.options if not o.parent or (chosen and o.parent == chosen)]
        if chosen and len({o.group for o in kept if o.parent}) <= 1:
            kept = [Choice(o.value, o.label, "" if o.parent else o.group, o.parent) for o in kept]
        form_field.options = kept
        form_field.waiting_for = "" if chosen else (controlling.label if controlling is not None else "")
    return fields


def offered(form_field: FormField, value: Any) -> Any:
    """``value`` without what ``form_field`` no longer offers (after the field it depends on changed)."""
    listed = {option.value for option in form_field.options}
    if isinstance(value, list):
        return [item for item in value if item in listed]
    return value if value in listed else None


def dependants(fields: list[FormField], name: str) -> list[FormField]:
    """The fields whose options depend on the field ``name``."""
    return [form_field for form_field in _walk(fields) if form_field.depends_on == name]


def walk(fields: list[FormField]) -> list[FormField]:
    """Every field of the form, variants' fields included, in order."""
    return _walk(fields)


def initial_values(fields: list[FormField]) -> dict[str, str | list[str]]:
    """The values a form opens with: the schema's defaults (a checkbox's is ``on``)."""
    return {f.name: f.default for f in _walk(fields) if f.default is not None and f.kind not in ("variant", "file")}


def _walk(fields: list[FormField]) -> list[FormField]:
    flat: list[FormField] = []
    for form_field in fields:
        flat.append(form_field)
        for variant in form_field.variants:
            flat.extend(_walk(variant.fields))
    return flat


def file_fields(fields: list[FormField]) -> list[FormField]:
    """The form's top-level file fields (file fields inside a variant are not supported)."""
    return [f for f in fields if f.kind == "file"]


def form_values(data: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """Posted form data as the form generator reads it: a name sent more than once (ticked boxes) keeps a list."""
    values: dict[str, str | list[str]] = {}
    for key, value in data.items():
        if key == "_csrf":
            continue
        if isinstance(value, list):
            values[key] = [str(v) for v in value] if len(value) > 1 else (str(value[0]) if value else "")
        else:
            values[key] = str(value)
    return values


def _one(value: Any) -> Any:
    """A single-valued field sent more than once (a crafted post): the first value counts, as in a browser."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _many(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(item).strip() for item in items if item is not None and str(item).strip()]


def decode(fields: list[FormField], form: Mapping[str, Any]) -> dict[str, Any]:
    """Turn flat form data into the nested payload the schema expects (only the chosen variant's fields).

    File fields are left out: the core fills them in from the stored upload.
    """
    payload: dict[str, Any] = {}
    for form_field in fields:
        key = form_field.name.rsplit(".", 1)[-1]
        if form_field.kind == "file":
            continue
        if form_field.kind == "variant":
            chosen = str(_one(form.get(form_field.name, "")) or "").strip()
            if not chosen:
                continue
            variant = next((v for v in form_field.variants if v.value == chosen), None)
            nested: dict[str, Any] = {form_field.discriminator: chosen}
            if variant is not None:
                nested.update(decode(variant.fields, form))
            payload[key] = nested
        elif form_field.kind == "checkbox":
            payload[key] = str(_one(form.get(form_field.name, ""))).lower() in ("on", "true", "1", "yes")
        elif form_field.kind == "multichoice":
            chosen_values = _many(form.get(form_field.name))
            if chosen_values:  # nothing ticked is "not answered": the schema's default or a "required" error
                payload[key] = list(dict.fromkeys(chosen_values))
        else:
            value = _one(form.get(form_field.name))
            if value is None:
                continue
            text = (
                str(value).strip() if form_field.kind != "textarea" else str(value).strip("\r\n ").replace("\r\n", "\n")
            )
            if text == "":
                continue
            payload[key] = text
    return payload


def encode(fields: list[FormField], data: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """The inverse of ``decode``: the form values that reproduce ``data`` (for re-rendering and tests)."""
    form: dict[str, str | list[str]] = {}
    for form_field in fields:
        key = form_field.name.rsplit(".", 1)[-1]
        value = data.get(key)
        if form_field.kind == "file":
            continue  # a browser cannot be given files back; the page asks for them again
        if form_field.kind == "variant":
            if isinstance(value, Mapping):
                chosen = str(value.get(form_field.discriminator, ""))
                form[form_field.name] = chosen
                variant = next((v for v in form_field.variants if v.value == chosen), None)
                if variant is not None:
                    form.update(encode(variant.fields, value))
        elif form_field.kind == "checkbox":
            if value:
                form[form_field.name] = "on"
        elif form_field.kind == "multichoice":
            if value:
                form[form_field.name] = [_format_value(item) for item in value]
        elif value is not None:
            form[form_field.name] = _format_value(value)
    return form


def _format_value(value: Any) -> str:
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:16] if "T" in text else text  # datetime-local wants minutes
    return str(value)


# Pydantic's error types turned into messages a customer understands, in their language.
_MESSAGES: dict[str, str] = {
    "missing": N_("This field is required."),
    "string_too_long": N_("Use at most %(max_length)s characters."),
    "greater_than_equal": N_("Enter %(ge)s or more."),
    "less_than_equal": N_("Enter %(le)s or less."),
    "greater_than": N_("Enter more than %(gt)s."),
    "less_than": N_("Enter less than %(lt)s."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "date_parsing": N_("Enter a date as YYYY-MM-DD."),
    "date_from_datetime_parsing": N_("Enter a date as YYYY-MM-DD."),
    "date_type": N_("Enter a date as YYYY-MM-DD."),
    "datetime_parsing": N_("Enter a date and time."),
    "datetime_from_date_parsing": N_("Enter a date and time."),
    "datetime_type": N_("Enter a date and time."),
    "literal_error": N_("Choose one of the options."),
    "enum": N_("Choose one of the options."),
    "union_tag_invalid": N_("Choose one of the options."),
    "union_tag_not_found": N_("Choose one of the options."),
    "bool_parsing": N_("Answer yes or no."),
    "string_type": N_("Enter text."),
    "extra_forbidden": N_("This field is not part of the form."),
    "string_pattern_mismatch": N_("Check the format of what you entered."),
    "model_attributes_type": N_("Fill in this part of the form."),
    "model_type": N_("Fill in this part of the form."),
    "too_short": N_("Choose at least %(min_length)s."),
    "too_long": N_("Choose at most %(max_length)s."),
    "list_type": N_("Choose from the options."),
}


def error_message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = dict(error.get("ctx") or {})
    if kind == "string_too_short":
        if ctx.get("min_length", 1) <= 1:
            return _("This field is required.")
        return _("Use at least %(min_length)s characters.", min_length=ctx["min_length"])
    if kind == "value_error" and "email" in str(error.get("msg", "")).lower():
        return _("Enter a valid e-mail address, e.g. name@example.se.")
    template = _MESSAGES.get(kind)
    if template:
        params = {k: v for k, v in ctx.items() if f"%({k})s" in template}
        return _(template, **params) if params else _(template)
    message = str(error.get("msg", ""))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return _(message)


def error_paths(fields: list[FormField], exc: ValidationError) -> dict[str, list[str]]:
    """Field path → messages. Discriminator tags in the error location are dropped to match form names."""
    variant_tags = {f.name: {v.value for v in f.variants} for f in _walk(fields) if f.kind == "variant"}
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        parts: list[str] = []
        skipped = ""
        for piece in error.get("loc", ()):
            candidate = ".".join(parts)
            # The tag comes once, right after its variant field (a field may share the tag's name).
            if candidate in variant_tags and candidate != skipped and str(piece) in variant_tags[candidate]:
                skipped = candidate
                continue
            parts.append(str(piece))
        path = ".".join(parts) or "__all__"
        errors.setdefault(path, []).append(error_message(error))
    return errors
