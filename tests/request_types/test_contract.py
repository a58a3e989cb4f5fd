"""Every installed request type keeps the plugin contract (core.testing) in a real organisation."""

from __future__ import annotations

from typing import Any

import pytest

import tests.plugins.parking_permit as parking_permit
from core.plugins import build_registry, create_plugin_manager
from core.portal import Portal
from core.testing import check_request_type, form_context, mutations

BUILT_IN = [
    request_type.key
    for request_type in build_registry(create_plugin_manager())
    if type(request_type).__module__.split(".")[0] in {"core", "plugins"}
]
"""The portal's own types. A third-party package installed beside the portal keeps the contract in its own tests,
where it can give the check what its fields need (``adjust``); the portal's suite stays green either way."""


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [parking_permit]


@pytest.mark.parametrize("key", BUILT_IN)
def test_built_in_type_keeps_the_contract(portal: Portal, world: Any, key: str) -> None:
    request_type = portal.registry.require(key)
    user = world.admin  # administrators can file every type, including administrators-only ones
    with form_context(portal, user) as context:
        check_request_type(request_type, context, max_examples=30)


def test_a_third_party_type_keeps_the_contract_with_its_own_strategies(portal: Portal, world: Any) -> None:
    from core.accounts import administration

    with portal.database.writing() as session:  # a store, so that the pick-up variant is drawn too
        administration.create_store(session, {"name": "Butik Test", "address": "Testgatan 1"})
    with form_context(portal, world.member) as context:
        check_request_type(portal.registry.require("parking_permit"), context, max_examples=40)


def test_the_check_finds_a_field_that_accepts_anything(portal: Portal, world: Any) -> None:
    """The check can fail: a type whose validation ignores a mutated field is caught."""
    from pydantic import BaseModel, ConfigDict, Field

    from core.api import RequestType

    class Loose(BaseModel):
        model_config = ConfigDict(extra="ignore")  # an unknown field slips through
        note: str = Field(min_length=1, max_length=10)

    class LooseType(RequestType):
        key = "loose"
        schema = Loose
        name = "Loose"

    request_type = LooseType()
    assert {m.description for m in mutations(request_type, {"note": "ok"})} >= {"a text that is too long"}
    with form_context(portal, world.admin) as context, pytest.raises(AssertionError, match="was accepted"):
        from core.testing import assert_mutations_refused

        class Sloppy(LooseType):
            schema = type("Sloppy", (BaseModel,), {"__annotations__": {"note": str}, "model_config": ConfigDict()})

        sloppy = Sloppy()
        # A hand-made mutation list: the schema has no maxLength, so "too long" is not generated; an extra
        # key under extra="forbid" is the mutation that must be refused but is accepted here.
        forbidding = {"additionalProperties": False, "properties": {"note": {"type": "string"}}, "required": []}
        from core.testing import contract as plugin_testing

        original = plugin_testing.json_schema
        plugin_testing.json_schema = lambda model: forbidding  # type: ignore[assignment]
        try:
            assert_mutations_refused(sloppy, context, {"note": "ok"})
        finally:
            plugin_testing.json_schema = original  # type: ignore[assignment]


def test_the_check_finds_a_lossy_form_round_trip(portal: Portal, world: Any) -> None:
    from pydantic import BaseModel, Field, field_validator

    from core.api import RequestType
    from core.testing import assert_round_trip

    class Shouting(BaseModel):
        word: str = Field(min_length=1, max_length=20)

        @field_validator("word")
        @classmethod
        def louder(cls, value: str) -> str:
            return value + "!"  # not idempotent: validating twice changes the data

    class ShoutingType(RequestType):
        key = "shouting"
        schema = Shouting
        name = "Shouting"

    with form_context(portal, world.admin) as context, pytest.raises(AssertionError, match="round trip"):
        assert_round_trip(ShoutingType(), context, {"word": "hej"})


def test_the_check_finds_charge_items_that_are_not_a_function_of_the_data(portal: Portal, world: Any) -> None:
    from itertools import count

    from pydantic import BaseModel, Field

    from core.api import ChargeItem, RequestType
    from core.models import Request
    from core.testing import assert_charge_items

    calls = count(1)

    class Form(BaseModel):
        note: str = Field(min_length=1, max_length=10)

    class Counting(RequestType):
        key = "counting"
        schema = Form
        name = "Counting"

        def charge_items(self, data: BaseModel, request: Request) -> list[ChargeItem]:
            return [ChargeItem("TAG", quantity=next(calls))]  # a different answer every time

    class NeedsAnId(Counting):
        def charge_items(self, data: BaseModel, request: Request) -> list[ChargeItem]:
            return [ChargeItem("TAG", note=f"BB-{request.id:d}")]  # the preview has no id yet

    with form_context(portal, world.admin) as context:
        with pytest.raises(AssertionError, match="then"):
            assert_charge_items(Counting(), context, {"note": "x"})
        with pytest.raises(TypeError):
            assert_charge_items(NeedsAnId(), context, {"note": "x"})
