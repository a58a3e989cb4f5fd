"""The contract every request type keeps, as a reusable property-based check any plugin runs against itself.

Payloads are generated from the type's JSON Schema (the same schema that drives the form and the API),
with the type's own strategies for fields that refer to the world (:meth:`RequestType.example_strategies`)
and its render-time choices for choice fields. The check then asserts, for each generated payload:

- it is accepted (schema validation and the type's own ``validate``);
- validating, encoding as the HTML form, decoding and validating again gives the same validated data
  (normalised fields such as phone numbers included);
- mutations of it (a required field removed, a text made too long, a value of the wrong type, an option
  that is not offered, a field the form does not have) are refused with an error on that field, never
  with any other exception;
- ``charge_items`` gives a list of :class:`~core.requests.request_types.ChargeItem` for it, the same list when asked
  twice, without needing the request to be stored (the cost preview asks before anything is filed).

Use it from a plugin's tests (hypothesis is a test dependency; this module is only imported by tests)::

    from core.testing import check_request_type, form_context

    def test_contract(portal, world):
        with form_context(portal, world.admin) as context:
            check_request_type(portal.registry.require("parking_permit"), context)

Fields are drawn independently; where one depends on another (the end of a period after its start), pass
``adjust``: a function that makes a drawn payload consistent (swap two dates), applied before the checks.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.platform.errors import ValidationFailed
from core.requests.context import FormContext
from core.requests.filing import draft_request, validate_submission
from core.requests.forms import build_fields, decode, encode, json_schema, render_choices
from core.requests.request_types import ChargeItem, RequestType
from core.views import RequestView

if TYPE_CHECKING:
    pass

# Text that survives a browser form unchanged: letters (Swedish ones too), digits, punctuation, inner spaces.
_TEXT_ALPHABET = string.ascii_letters + string.digits + "åäöÅÄÖéü .,-:;!?()/&'\"#@+%"


# --- Strategies from the JSON Schema -------------------------------------------------------------------


def _resolve(root: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        target = dict(root.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {}))
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return dict(node)


def _unwrap(root: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """An ``anyOf [X, null]`` node as X, and whether it may be left out."""
    options = node.get("anyOf")
    if options and any(option.get("type") == "null" for option in options):
        rest = [option for option in options if option.get("type") != "null"]
        if len(rest) == 1:
            inner = _resolve(root, rest[0])
            return {**inner, **{k: v for k, v in node.items() if k not in ("anyOf", "default")}}, True
    return dict(node), False


def _text(node: Mapping[str, Any], textarea: bool) -> st.SearchStrategy[str]:
    low = max(int(node.get("minLength", 0)), 1)
    high = min(int(node.get("maxLength", 200)), 400)
    alphabet = _TEXT_ALPHABET + ("\n" if textarea else "")
    return (
        st.text(alphabet=alphabet, min_size=low, max_size=high)
        .map(lambda value: value.strip())
        .filter(lambda value: low <= len(value) <= high)
    )


def swedish_phone_numbers() -> st.SearchStrategy[str]:
    """Swedish mobile numbers written the ways people write them."""
    digits = st.text(alphabet=string.digits, min_size=7, max_size=7)
    prefix = st.sampled_from(["70", "72", "73", "76", "79"])
    return st.builds(
        lambda p, d, style: {
            0: f"0{p}-{d[:3]} {d[3:5]} {d[5:]}",
            1: f"+46 {p} {d[:3]} {d[3:5]} {d[5:]}",
            2: f"0{p}{d}",
            3: f"0046{p}{d}",
        }[style],
        prefix,
        digits,
        st.integers(0, 3),
    )


def email_addresses() -> st.SearchStrategy[str]:
    return st.from_regex(r"\A[a-z][a-z0-9]{0,11}(\.[a-z0-9]{1,8})?@[a-z]{2,10}\.(se|com|example)\Z")


def _scalar(node: dict[str, Any], today: date) -> st.SearchStrategy[Any]:
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(list(node["enum"]))
    json_type = node.get("type")
    fmt = node.get("format")
    if json_type == "boolean":
        return st.booleans()
    if json_type == "integer":
        low = int(node["minimum"]) if "minimum" in node else int(node.get("exclusiveMinimum", -1)) + 1
        high = int(node.get("maximum", low + 100_000))
        return st.integers(low, high)
    if json_type == "number":
        bottom = int(node.get("minimum", 0))
        return st.integers(bottom, int(node.get("maximum", bottom + 100_000))).map(float)
    if fmt == "date":
        return st.dates(today - timedelta(days=365), today)
    if fmt == "email":
        return email_addresses()
    if fmt == "phone":
        return swedish_phone_numbers()
    if node.get("pattern"):
        low, high = int(node.get("minLength", 0)), int(node.get("maxLength", 400))
        return st.from_regex(node["pattern"], fullmatch=True).filter(lambda v: low <= len(v) <= high)
    return _text(node, node.get("widget") == "textarea")


@dataclass
class _Builder:
    root: dict[str, Any]
    choices: Mapping[str, list[Any]]
    overrides: Mapping[str, st.SearchStrategy[Any]]
    today: date

    def model(self, node: Mapping[str, Any], prefix: str = "", skip: str = "") -> st.SearchStrategy[dict[str, Any]]:
        required = set(node.get("required", []))
        parts: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for name, raw in node.get("properties", {}).items():
            if name == skip:
                continue
            prop, nullable = _unwrap(self.root, _resolve(self.root, raw))
            if prop.get("readOnly"):
                continue  # filled in by the portal (a file field's names), never sent by a form or an API client
            strategy = self.field(prop, f"{prefix}{name}")
            if name in required and not nullable:
                parts[name] = strategy
            else:
                optional[name] = strategy
        return st.fixed_dictionaries(parts, optional=optional)

    def field(self, prop: dict[str, Any], path: str) -> st.SearchStrategy[Any]:
        if path in self.overrides:
            return self.overrides[path]
        if prop.get("type") == "array" and prop.get("choices"):  # a list of render-time choices (checkboxes)
            offered = [choice.value for choice in self.choices.get(path, [])]
            low = int(prop.get("minItems", 0))
            if len(offered) < low:
                return st.nothing()
            high = min(int(prop.get("maxItems", 5)), len(offered))
            return (
                st.lists(st.sampled_from(offered), min_size=low, max_size=high, unique=True) if offered else st.just([])
            )
        if prop.get("choices"):
            offered = [choice.value for choice in self.choices.get(path, [])]
            return st.sampled_from(offered) if offered else st.nothing()
        if prop.get("oneOf") and prop.get("discriminator"):
            tag_name = prop["discriminator"]["propertyName"]
            variants = []
            for option in prop["oneOf"]:
                variant = _resolve(self.root, option)
                tag = variant["properties"][tag_name]
                value = tag.get("const") or tag.get("enum", [""])[0]
                variants.append(self.model(variant, f"{path}.", skip=tag_name).map(_tagged(tag_name, value)))
            return st.one_of(variants)
        if prop.get("type") == "object" and prop.get("properties"):
            return self.model(prop, f"{path}.")
        if prop.get("type") == "array":
            items = _resolve(self.root, prop.get("items", {}))
            inner = self.field(items, path)
            low, high = int(prop.get("minItems", 0)), int(prop.get("maxItems", 5))
            return st.lists(inner, min_size=low, max_size=high, unique=True)
        return _scalar(prop, self.today)


def _tagged(tag_name: str, value: Any) -> Any:
    """Add a variant's discriminator to its generated body."""

    def add(body: dict[str, Any]) -> dict[str, Any]:
        return {tag_name: value, **body}

    return add


def payloads(
    request_type: RequestType, context: FormContext, overrides: Mapping[str, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid-looking JSON payloads for ``request_type`` in ``context``'s organisation.

    Field strategies, by form path (``field`` or ``variant.field``), come from ``overrides``, then the
    type's :meth:`~core.requests.request_types.RequestType.example_strategies`, then its render-time choices, then
    the JSON Schema.
    """
    schema = json_schema(request_type.schema)
    merged = {**request_type.example_strategies(context), **(overrides or {})}
    builder = _Builder(schema, render_choices(request_type, request_type.schema, context), merged, context.today())
    return builder.model(schema)


# --- The checks ----------------------------------------------------------------------------------------


def assert_round_trip(request_type: RequestType, context: FormContext, payload: dict[str, Any]) -> None:
    """Accepted, and the HTML form encoding of the validated data validates to the same data."""
    try:
        data, _when = validate_submission(request_type, payload, context)
    except ValidationFailed as exc:
        raise AssertionError(f"{request_type.key}: a valid payload was refused: {payload!r} → {exc.errors}") from exc
    fields = build_fields(request_type.schema, render_choices(request_type, request_type.schema, context))
    form = encode(fields, data.model_dump(mode="json"))
    again, _when = validate_submission(request_type, decode(fields, form), context)
    mode = request_type.mode_for(data.model_dump(mode="json"))
    assert mode in request_type.modes(), (
        f"{request_type.key}: mode_for gave {mode}, which modes() does not list (release would not start it)"
    )
    assert again.model_dump(mode="json") == data.model_dump(mode="json"), (
        f"{request_type.key}: the form round trip changed the data: {data!r} → {form!r} → {again!r}"
    )


def assert_charge_items(request_type: RequestType, context: FormContext, payload: dict[str, Any]) -> None:
    """``charge_items`` is a pure function of the data that needs no stored request (its id is None)."""
    data, when = validate_submission(request_type, payload, context)
    draft = draft_request(request_type, data, when=when, context=context)
    first = request_type.charge_items(data, RequestView.of(draft))
    assert isinstance(first, list) and all(isinstance(item, ChargeItem) for item in first), (
        f"{request_type.key}: charge_items must return a list of ChargeItem, got {first!r}"
    )
    again = request_type.charge_items(data, RequestView.of(draft))
    assert again == first, f"{request_type.key}: charge_items gave {first!r}, then {again!r} for the same data"


@dataclass(frozen=True)
class Mutation:
    path: str
    """The form path of the field that was made invalid (``variant.field`` inside a variant)."""
    description: str
    payload: dict[str, Any]


def mutations(request_type: RequestType, payload: dict[str, Any]) -> list[Mutation]:
    """Invalid payloads made from a valid one, each breaking exactly one field."""
    schema = json_schema(request_type.schema)
    found: list[Mutation] = []
    _mutate(schema, schema, payload, [], found, forbid_extra=schema.get("additionalProperties") is False)
    return found


def _with(payload: dict[str, Any], keys: list[str], value: Any, *, remove: bool = False) -> dict[str, Any]:
    copy: dict[str, Any] = dict(payload)
    if len(keys) == 1:
        if remove:
            copy.pop(keys[0], None)
        else:
            copy[keys[0]] = value
        return copy
    copy[keys[0]] = _with(dict(copy[keys[0]]), keys[1:], value, remove=remove)
    return copy


def _mutate(
    root: dict[str, Any],
    node: dict[str, Any],
    payload: dict[str, Any],
    keys: list[str],
    found: list[Mutation],
    *,
    forbid_extra: bool,
    skip: str = "",
) -> None:
    required = set(node.get("required", []))
    current: Mapping[str, Any] = payload
    for key in keys:
        current = current[key]
    if forbid_extra:
        found.append(
            Mutation(".".join([*keys, "x_unknown"]), "an unknown field", _with(payload, [*keys, "x_unknown"], 1))
        )
    for name, raw in node.get("properties", {}).items():
        if name == skip:
            continue
        prop, nullable = _unwrap(root, _resolve(root, raw))
        path = [*keys, name]
        dotted = ".".join(path)
        if name in required and not nullable and "default" not in raw:
            found.append(Mutation(dotted, "a required field left out", _with(payload, path, None, remove=True)))
        if name not in current:
            continue
        found.append(Mutation(dotted, "a value of the wrong type", _with(payload, path, {"not": "a value"})))
        if prop.get("type") == "string" and "maxLength" in prop and "enum" not in prop and not prop.get("format"):
            found.append(
                Mutation(dotted, "a text that is too long", _with(payload, path, "x" * (prop["maxLength"] + 1)))
            )
        if "enum" in prop or prop.get("choices"):
            not_offered: Any = ["999999999"] if prop.get("type") == "array" else "999999999"
            found.append(Mutation(dotted, "an option that is not offered", _with(payload, path, not_offered)))
        if prop.get("type") == "integer" and "maximum" in prop:
            found.append(Mutation(dotted, "a number above the maximum", _with(payload, path, prop["maximum"] + 1)))
        if prop.get("oneOf") and prop.get("discriminator") and isinstance(current[name], Mapping):
            tag_name = prop["discriminator"]["propertyName"]
            chosen = current[name].get(tag_name)
            for option in prop["oneOf"]:
                variant = _resolve(root, option)
                tag = variant["properties"][tag_name]
                if (tag.get("const") or tag.get("enum", [""])[0]) == chosen:
                    _mutate(
                        root,
                        variant,
                        payload,
                        path,
                        found,
                        forbid_extra=variant.get("additionalProperties") is False,
                        skip=tag_name,
                    )
        elif prop.get("type") == "object" and prop.get("properties") and isinstance(current[name], Mapping):
            _mutate(root, prop, payload, path, found, forbid_extra=prop.get("additionalProperties") is False)


def assert_mutations_refused(request_type: RequestType, context: FormContext, payload: dict[str, Any]) -> None:
    """Each mutation is refused with an error on the broken field (or a field inside it), nothing else."""
    for mutation in mutations(request_type, payload):
        try:
            validate_submission(request_type, mutation.payload, context)
        except ValidationFailed as exc:
            on_field = [
                path
                for path in exc.errors
                if path == mutation.path or path.startswith(mutation.path + ".") or mutation.path.startswith(path + ".")
            ]
            assert on_field, (
                f"{request_type.key}: {mutation.description} at {mutation.path} was refused, but not on that field: "
                f"{exc.errors}"
            )
            continue
        raise AssertionError(f"{request_type.key}: {mutation.description} at {mutation.path} was accepted")


def check_request_type(
    request_type: RequestType,
    context: FormContext,
    *,
    overrides: Mapping[str, st.SearchStrategy[Any]] | None = None,
    adjust: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    max_examples: int | None = None,
) -> None:
    """Run the whole contract for one request type in one organisation's context (raises on a breach).

    ``overrides`` gives strategies by form path (``field`` or ``variant.field``); ``adjust`` makes each drawn
    payload consistent where fields depend on each other (it gets a copy and returns the payload to check).
    """
    strategy = payloads(request_type, context, overrides)
    if adjust is not None:
        strategy = strategy.map(lambda payload: adjust(dict(payload)))
    options: dict[str, Any] = {
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        "database": None,
    }
    if max_examples is not None:
        options["max_examples"] = max_examples

    @settings(**options)
    @given(payload=strategy)
    def contract(payload: dict[str, Any]) -> None:
        assert_round_trip(request_type, context, payload)
        assert_mutations_refused(request_type, context, payload)
        assert_charge_items(request_type, context, payload)

    contract()


__all__ = [
    "Mutation",
    "assert_charge_items",
    "assert_mutations_refused",
    "assert_round_trip",
    "check_request_type",
    "email_addresses",
    "mutations",
    "payloads",
    "swedish_phone_numbers",
]
