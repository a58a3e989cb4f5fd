"""Generated forms: fields from the schema, form data to payload and back, errors in the user's language."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, EmailStr, Field, ValidationError

from core.platform.i18n import use_language
from core.requests.fields import PhoneNumber, long_text, normalise_swedish_phone, render_time_choices
from core.requests.forms import build_fields, decode, encode, error_paths, form_values, narrow, offered
from core.requests.request_types import Choice
from plugins.fault_report.schema import FaultReportForm


class Post(BaseModel):
    model_config = {"title": "By post"}
    kind: Literal["post"]
    address: str = Field(min_length=1, title="Address")


class Pickup(BaseModel):
    model_config = {"title": "Pick up"}
    kind: Literal["pickup"]
    store: int = Field(title="Store", json_schema_extra={"choices": "stores"})


class Everything(BaseModel):
    name: str = Field(min_length=1, max_length=50, title="Name")
    notes: str = Field(default="", title="Notes", json_schema_extra=long_text())
    colour: Literal["red", "blue"] = Field(title="Colour")
    when: date | None = Field(default=None, title="When")
    agree: bool = Field(default=False, title="Agree")
    count: int = Field(ge=1, le=500, title="Count")
    email: EmailStr = Field(title="E-mail")
    phone: PhoneNumber = Field(title="Phone")
    delivery: Annotated[Post | Pickup, Field(discriminator="kind", title="Delivery")]


def test_field_kinds_from_the_schema() -> None:
    fields = {f.name: f for f in build_fields(Everything)}
    kinds = {name: f.kind for name, f in fields.items()}
    assert kinds == {
        "name": "text",
        "notes": "textarea",
        "colour": "select",
        "when": "date",
        "agree": "checkbox",
        "count": "number",
        "email": "email",
        "phone": "tel",
        "delivery": "variant",
    }
    assert fields["name"].required and not fields["when"].required and fields["count"].maximum == 500
    delivery = fields["delivery"]
    assert [v.value for v in delivery.variants] == ["post", "pickup"]
    assert [f.name for f in delivery.variants[0].fields] == ["delivery.address"]
    assert delivery.variants[1].fields[0].choices_source == "stores"


def test_decode_takes_only_the_chosen_variant() -> None:
    fields = build_fields(Everything)
    form = {
        "name": " Anna ",
        "colour": "red",
        "count": "3",
        "email": "a@b.se",
        "phone": "0701234567",
        "delivery": "pickup",
        "delivery.address": "left over",
        "delivery.store": "2",
        "agree": "on",
    }
    payload = decode(fields, form)
    assert payload["delivery"] == {"kind": "pickup", "store": "2"}
    assert payload["name"] == "Anna" and payload["agree"] is True and "when" not in payload
    model = Everything.model_validate(payload)
    assert model.phone == "+46701234567"


def test_errors_are_keyed_by_form_name_and_translated() -> None:
    fields = build_fields(Everything)
    payload = decode(fields, {"delivery": "post", "count": "0", "phone": "123", "email": "nope"})
    try:
        Everything.model_validate(payload)
    except ValidationError as exc:
        with use_language("sv"):
            errors = error_paths(fields, exc)
    assert errors["delivery.address"] == ["Fältet är obligatoriskt."]
    assert set(errors) >= {"name", "colour", "count", "email", "phone", "delivery.address"}
    assert errors["name"] == ["Fältet är obligatoriskt."]
    assert "070-123 45 67" in errors["phone"][0]


class ByNumber(BaseModel):
    kind: Literal["number"]
    number: str = Field(min_length=1, title="Number")


class ByName(BaseModel):
    kind: Literal["name"]
    name: str = Field(min_length=1, title="Name")


class Lookup(BaseModel):
    what: Annotated[ByNumber | ByName, Field(discriminator="kind", title="What")]


def test_a_field_named_like_its_variant_keeps_its_own_error() -> None:
    fields = build_fields(Lookup)
    for form, path in (({"what": "number"}, "what.number"), ({"what": "name"}, "what.name"), ({}, "what")):
        try:
            Lookup.model_validate(decode(fields, form))
        except ValidationError as exc:
            assert list(error_paths(fields, exc)) == [path]
        else:
            raise AssertionError(f"{form} was accepted")


def test_encode_then_decode_round_trips_the_fault_report() -> None:
    data = FaultReportForm.model_validate(
        {
            "system_id": 3,
            "location": "Entré",
            "description": "Låset\nkärvar",
            "since": "2026-11-01",
            "urgency": "urgent",
            "contact_name": "Anna",
            "contact_phone": "08-123 456 78",
        }
    )
    fields = build_fields(FaultReportForm)
    again = FaultReportForm.model_validate(decode(fields, encode(fields, data.model_dump(mode="json"))))
    assert again == data


swedish_mobiles = st.integers(min_value=0, max_value=9_999_999).map(lambda n: f"070{n:07d}")


@given(swedish_mobiles, st.sampled_from(["{}", "+46{}", "0046{}", "{} ", "{}"]))
def test_phone_numbers_normalise_to_e164(number: str, pattern: str) -> None:
    national = number
    written = pattern.format(national[1:] if pattern.startswith(("+46", "0046")) else national)
    normalised = normalise_swedish_phone(written)
    assert normalised == "+46" + national[1:]
    assert phonenumbers.is_valid_number(phonenumbers.parse(normalised))
    assert normalise_swedish_phone(normalised) == normalised  # idempotent


# --- lists of choices, grouped options, nested variants ------------------------------------------------------


class Parcel(BaseModel):
    model_config = {"title": "Send"}
    kind: Literal["send"]
    street: str = Field(min_length=1, title="Street")


class Counter(BaseModel):
    model_config = {"title": "Pick up"}
    kind: Literal["counter"]
    store: int = Field(title="Store", json_schema_extra={"choices": "stores"})


class Tags(BaseModel):
    model_config = {"title": "Tags"}
    kind: Literal["tags"]
    count: int = Field(ge=1, title="Count")
    delivery: Annotated[Parcel | Counter, Field(discriminator="kind", title="Delivery")]


class Groups(BaseModel):
    model_config = {"title": "Groups"}
    kind: Literal["groups"]
    groups: list[str] = Field(min_length=1, max_length=5, title="Groups", json_schema_extra={"choices": "groups"})
    days: list[Literal["mon", "tue"]] = Field(
        default_factory=list, title="Days", json_schema_extra={"enum_labels": {"mon": "Monday", "tue": "Tuesday"}}
    )


class Ordering(BaseModel):
    what: Annotated[Tags | Groups, Field(discriminator="kind", title="What")]


def test_a_list_of_choices_is_a_multichoice_with_render_time_or_fixed_options() -> None:
    options = {"what.groups": [Choice("1:a", "Entry", group="System A"), Choice("2:a", "Entry", group="System B")]}
    what = build_fields(Ordering, options)[0]
    groups, days = what.variants[1].fields
    assert (groups.kind, groups.required, groups.max_length) == ("multichoice", True, 5)
    assert [g for g, _ in groups.option_groups] == ["System A", "System B"]
    assert [(n, c.value) for _, members in groups.option_groups for n, c in members] == [(1, "1:a"), (2, "2:a")]
    assert days.kind == "multichoice" and not days.required
    assert [(o.value, o.label) for o in days.options] == [("mon", "Monday"), ("tue", "Tuesday")]
    assert groups.unlisted(["1:a", "9:z"]) == ["9:z"] and groups.unlisted("") == []


def test_ticked_boxes_decode_to_a_list_and_nothing_ticked_is_not_answered() -> None:
    fields = build_fields(Ordering)
    one = decode(fields, {"what": "groups", "what.groups": "1:a"})
    assert one == {"what": {"kind": "groups", "groups": ["1:a"]}}
    several = decode(fields, {"what": "groups", "what.groups": ["1:a", " 2:b ", "1:a", ""], "what.days": ["tue"]})
    assert several["what"]["groups"] == ["1:a", "2:b"] and several["what"]["days"] == ["tue"]
    none = decode(fields, {"what": "groups"})
    with pytest.raises(ValidationError) as raised, use_language("sv"):
        Ordering.model_validate(none)
    with use_language("sv"):
        assert error_paths(fields, raised.value) == {"what.groups": ["Fältet är obligatoriskt."]}


def test_an_empty_or_too_long_list_from_the_api_gets_a_message_a_customer_understands() -> None:
    fields = build_fields(Ordering)
    for groups, english in ((["x"] * 6, "Choose at most 5."), ([], "Choose at least 1.")):
        with pytest.raises(ValidationError) as raised:
            Ordering.model_validate({"what": {"kind": "groups", "groups": groups}})
        with use_language("en"):
            assert error_paths(fields, raised.value)["what.groups"] == [english]


def test_a_variant_inside_a_variant_decodes_and_reports_errors_under_its_own_names() -> None:
    fields = build_fields(Ordering)
    delivery = fields[0].variants[0].fields[1]
    assert delivery.kind == "variant" and delivery.name == "what.delivery"
    assert [f.name for v in delivery.variants for f in v.fields] == ["what.delivery.street", "what.delivery.store"]
    form = {"what": "tags", "what.count": "0", "what.delivery": "counter", "what.delivery.street": "ignored"}
    payload = decode(fields, form)
    assert payload == {"what": {"kind": "tags", "count": "0", "delivery": {"kind": "counter"}}}
    with pytest.raises(ValidationError) as raised:
        Ordering.model_validate(payload)
    assert set(error_paths(fields, raised.value)) == {"what.count", "what.delivery.store"}


def test_a_field_sent_twice_counts_once_and_form_values_keep_only_real_lists() -> None:
    fields = build_fields(Ordering)
    assert decode(fields, {"what": ["tags", "groups"], "what.count": ["3", "4"]})["what"] == {
        "kind": "tags",
        "count": "3",
    }
    assert form_values({"_csrf": "t", "a": ["1"], "b": ["1", "2"], "c": "x", "d": []}) == {
        "a": "1",
        "b": ["1", "2"],
        "c": "x",
        "d": "",
    }


groups_payloads = st.builds(
    lambda groups, days: {"what": {"kind": "groups", "groups": groups, "days": days}},
    st.lists(st.from_regex(r"[0-9]{1,3}:[a-z]{1,8}", fullmatch=True), min_size=1, max_size=5, unique=True),
    st.lists(st.sampled_from(["mon", "tue"]), unique=True),
)


@given(groups_payloads)
def test_encode_then_decode_round_trips_lists_of_choices(payload: dict[str, Any]) -> None:
    fields = build_fields(Ordering)
    model = Ordering.model_validate(payload)
    assert Ordering.model_validate(decode(fields, encode(fields, model.model_dump(mode="json")))) == model


# --- choices that follow another choice -------------------------------------------------------------------


class _Dependent(BaseModel):
    system_id: int = Field(title="System", json_schema_extra=render_time_choices("systems"))
    holder: str = Field(title="Holder", json_schema_extra=render_time_choices("holders", depends_on="system_id"))


_OPTIONS = {
    "system_id": [Choice("1", "A"), Choice("2", "B")],
    "holder": [
        Choice("1:h1", "Anna", group="A", parent="1"),
        Choice("2:h9", "Bertil", group="B", parent="2"),
        Choice("none", "Nobody"),
    ],
}


def test_a_dependent_field_offers_only_the_chosen_values_options_without_group_headings() -> None:
    fields = narrow(build_fields(_Dependent, _OPTIONS), {"system_id": "2"})
    holder = next(f for f in fields if f.name == "holder")
    assert [(o.value, o.group) for o in holder.options] == [("2:h9", ""), ("none", "")]
    assert holder.waiting_for == "" and holder.depends_on == "system_id"
    system = next(f for f in fields if f.name == "system_id")
    assert system.refresh_label == "Välj system"  # the button a browser without JavaScript presses
    with use_language("en"):
        english = narrow(build_fields(_Dependent, _OPTIONS), {"system_id": "2"})
    assert next(f for f in english if f.name == "system_id").refresh_label == "Choose system"


def test_before_anything_is_chosen_a_dependent_field_offers_only_what_depends_on_nothing() -> None:
    fields = narrow(build_fields(_Dependent, _OPTIONS), {})
    holder = next(f for f in fields if f.name == "holder")
    assert [o.value for o in holder.options] == ["none"] and holder.waiting_for == "System"
    assert offered(holder, "1:h1") is None and offered(holder, ["none", "1:h1"]) == ["none"]
