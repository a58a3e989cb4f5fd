"""Every generated form has unique element ids and labels that point at a field (assistive technology needs both)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from core.api import RequestType, hookimpl
from core.plugins import build_registry, create_plugin_manager


class ByNumber(BaseModel):
    model_config = ConfigDict(title="By number", extra="forbid")
    how: Literal["number"] = "number"
    number: str = Field(min_length=1, max_length=20, title="Number")  # same name as its variant


class ByName(BaseModel):
    model_config = ConfigDict(title="By name", extra="forbid")
    how: Literal["help"] = "help"  # same name as the hint's id suffix
    name: str = Field(min_length=1, max_length=20, title="Name")


class Clashing(BaseModel):
    model_config = ConfigDict(title="Clashing", extra="forbid")
    tag: Annotated[ByNumber | ByName, Field(discriminator="how", title="Tag", description="Which tag")]


class ClashingType(RequestType):
    key = "clashing"
    schema = Clashing
    name = "Clashing names"


class ClashingPlugin:
    @hookimpl
    def bbportal_request_types(self) -> list[RequestType]:
        return [ClashingType()]


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [ClashingPlugin()]


KEYS = [t.key for t in build_registry(create_plugin_manager())] + ["clashing"]


@pytest.mark.parametrize("key", KEYS)
def test_ids_are_unique_and_labels_point_at_fields(world: Any, web: Any, key: str) -> None:
    web.login(world.admin.email)
    page = web.get(f"/requests/new/{key}")
    assert page.status_code == 200
    ids = re.findall(r'\sid="([^"]+)"', page.text)
    duplicates = [value for value, count in Counter(ids).items() if count > 1]
    assert not duplicates, f"{key}: duplicate ids {duplicates}"
    missing = [target for target in re.findall(r'<label[^>]*\sfor="([^"]+)"', page.text) if target not in ids]
    assert not missing, f"{key}: labels for missing ids {missing}"
