"""The test kit's helpers do what docs/plugin-api.md promises (the scaffold's and the guide's tests use the rest)."""

from __future__ import annotations

import pytest

from core.api import AttachmentView, Portal, Status
from core.testing import file_request, fulfilment_context, request_view, staff_action
from tests.plugins.sample_types import SamplePlugin
from tests.support import World


@pytest.fixture
def extra_plugins() -> list[object]:
    return [SamplePlugin()]


def test_staff_action_passes_a_request_to_a_colleague(portal: Portal, world: World) -> None:
    filed = file_request(portal, world.member.id or 0, "sample_manual", {"note": "x"})
    assert filed.id is not None
    staff_action(portal, world.staff.id or 0, filed.id, "take")
    staff_action(portal, world.staff.id or 0, filed.id, "assign", assignee=world.colleague.id)
    staff_action(portal, world.colleague.id or 0, filed.id, "complete")  # only the holder may complete it
    assert request_view(portal, filed.id).status == Status.COMPLETED


def test_staff_action_names_the_actions_for_a_typo(portal: Portal, world: World) -> None:
    filed = file_request(portal, world.member.id or 0, "sample_manual", {"note": "x"})
    assert filed.id is not None
    with pytest.raises(ValueError, match=r"'tkae' is not an action; one of: .*take"):
        staff_action(portal, world.staff.id or 0, filed.id, "tkae")


def test_attach_gives_a_view_and_a_retry_replaces_the_file(portal: Portal, world: World) -> None:
    filed = file_request(portal, world.member.id or 0, "sample_manual", {"note": "x"})
    context = fulfilment_context(portal)
    first = context.attach(filed, filename="a/../list.csv", content_type="text/csv", chunks=[b"a,b\n"], origin="list")
    again = context.attach(filed, filename="list.csv", content_type="text/csv", chunks=[b"a,b\n1,2\n"], origin="list")
    assert isinstance(first, AttachmentView) and first.request_id == filed.id and "/" not in first.filename
    assert again.id == first.id and again.size == 8 and again.origin == "list" and not again.internal
