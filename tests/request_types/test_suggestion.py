"""Föreslå en förändring: the form, its errors, filing through the pages and the API, handled by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import col, func, select

from core.models import ChatMessage, Request
from core.platform import outbox
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.requests.lifecycle import Action
from core.requests.statuses import Status
from core.workflow import actions as workflow
from plugins.suggestion import Suggestion
from plugins.suggestion.schema import SUGGESTION_MAX, SuggestionForm
from tests.integration.test_api import token_for
from tests.support import World

URL = "/requests/new/suggestion"


def count_requests(portal: Portal) -> int:
    with portal.database.reading() as s:
        return int(s.exec(select(func.count()).select_from(Request)).one())


def stored(portal: Portal, request_id: int) -> Request:
    with portal.database.reading() as s:
        found = s.get(Request, request_id)
        assert found is not None
        return found


def valid(**changes: Any) -> dict[str, Any]:
    return {"topic": "portal", "suggestion": "Visa vem som spärrade en tagg.\nDet vore bra för styrelsen.", **changes}


def test_the_tile_and_the_form_in_swedish(world: World, web: Any) -> None:
    web.login(world.member.email)
    start = web.get("/").text
    assert "Föreslå en förändring" in start and f'href="{URL}"' in start
    page = web.get(URL).text
    assert "Känner ni att ni saknar något i vår portal" in page
    for label in ("Vad gäller det", "Ert förslag", "Portalen", "Vårt system", "Service och support", "Något annat"):
        assert label in page
    assert 'name="suggestion"' in page and f'maxlength="{SUGGESTION_MAX}"' in page and "<textarea" in page
    assert f'<option value="{world.system.id}"' in page and f'value="{world.other_system.id}"' not in page
    assert 'name="carry_out_on"' not in page  # a suggestion is read, not carried out on a later day


def test_the_form_in_english(world: World, web: Any) -> None:
    web.login(world.member.email)
    web.post("/language", {"language": "en", "next": "/"})
    page = web.get(URL).text
    assert "Suggest a change" in page and "What it concerns" in page and "Service and support" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"topic": ""}, "topic", "Fältet är obligatoriskt."),
        ({"topic": "the_weather"}, "topic", "Välj ett av alternativen."),
        ({"suggestion": "   "}, "suggestion", "Fältet är obligatoriskt."),
        ({"suggestion": "x" * (SUGGESTION_MAX + 1)}, "suggestion", f"Använd högst {SUGGESTION_MAX} tecken."),
        ({"system_id": "abc"}, "system-id", "Ange ett heltal."),
    ],
)
def test_each_field_error_is_shown_at_the_field_and_nothing_is_saved(
    portal: Portal, world: World, web: Any, changes: dict[str, str], field: str, message: str
) -> None:
    web.login(world.member.email)
    response = web.post(URL, {**valid(), **changes})
    assert response.status_code == 422
    page = response.text
    assert f'id="f-{field}-error"' in page and message in page.replace("&#34;", '"')
    assert f'href="#f-{field}"' in page  # the summary links to the field
    if field != "suggestion":
        assert "Visa vem som spärrade en tagg." in page  # what the customer wrote is kept
    assert count_requests(portal) == 0


def test_another_organisations_system_is_refused_at_the_field(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    response = web.post(URL, valid(system_id=str(world.other_system.id)))
    assert response.status_code == 422
    assert 'id="f-system-id-error"' in response.text and "Välj ett av er organisations system." in response.text
    assert count_requests(portal) == 0


def test_filed_through_the_form_it_waits_for_staff(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    response = web.post(URL, valid(topic="system", system_id=str(world.system.id)), follow_redirects=False)
    assert response.status_code == 302
    request_id = int(response.headers["location"].split("/")[2].split("?")[0])
    filed = stored(portal, request_id)
    assert filed.type_key == "suggestion" and filed.status == Status.PENDING and filed.system_id == world.system.id
    assert filed.summary == "Förslag: Visa vem som spärrade en tagg." and filed.priority == 0
    assert filed.data == {
        "topic": "system",
        "suggestion": "Visa vem som spärrade en tagg.\nDet vore bra för styrelsen.",
        "system_id": world.system.id,
    }
    page = web.get(f"/requests/{request_id}").text
    assert "Vårt system" in page and "Passersystem A" in page and "Väntar på hantering" in page
    outbox.drain(portal)
    with portal.database.reading() as s:  # manual: nothing is carried out automatically
        topics = {m.topic for m in s.exec(select(OutboxMessage))}
    assert "start_fulfilment" not in topics and "fulfil" not in topics
    assert stored(portal, request_id).status == Status.PENDING


def test_filed_through_the_api_without_a_system_and_never_for_later(portal: Portal, world: World, web: Any) -> None:
    headers = token_for(portal, world.member)
    later = (portal.clock.now() + timedelta(days=7)).date().isoformat()
    for_later = web.client.post(
        "/api/v1/requests",
        headers=headers,
        json={"type": "suggestion", "data": valid(topic="service"), "carry_out_on": later},
    )
    assert for_later.status_code == 422 and set(for_later.json()["errors"]) == {"carry_out_on"}
    response = web.client.post(
        "/api/v1/requests", headers=headers, json={"type": "suggestion", "data": valid(topic="service")}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending" and body["system_id"] is None and body["data"]["topic"] == "service"
    refused = web.client.post(
        "/api/v1/requests",
        headers=headers,
        json={"type": "suggestion", "data": {"topic": "portal", "suggestion": "", "extra": 1}},
    )
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"suggestion", "extra"}
    detail = web.client.get("/api/v1/request-types/suggestion", headers=headers).json()
    assert detail["fulfilment_mode"] == "manual" and detail["allows_carry_out_on"] is False
    assert detail["json_schema"]["properties"]["suggestion"]["maxLength"] == SUGGESTION_MAX


def test_staff_answer_in_the_chat_and_complete_it_by_hand(portal: Portal, world: World) -> None:
    filed = workflow.file(portal, world.member, "suggestion", valid(), None)
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    from core.conversation import chat

    chat.post(portal, world.staff, filed.id or 0, "Tack! Vi tar med det i nästa version.")
    workflow.perform(portal, world.staff, filed.id or 0, Action.COMPLETE)
    assert stored(portal, filed.id or 0).status == Status.COMPLETED
    with portal.database.reading() as s:
        bodies = [
            m.body
            for m in s.exec(select(ChatMessage).where(ChatMessage.request_id == filed.id).order_by(col(ChatMessage.id)))
        ]
    assert bodies == ["Tack! Vi tar med det i nästa version."]


def test_after_tag_block_and_fault_report_on_the_start_page(portal: Portal) -> None:
    keys = [request_type.key for request_type in portal.registry]
    assert keys.index("tag_block") < keys.index("fault_report") < keys.index("suggestion")


@given(st.text(min_size=1, max_size=200).filter(lambda text: text.strip() != ""))
def test_the_summary_is_a_short_title_from_the_first_line_the_customer_wrote(text: str) -> None:
    data = SuggestionForm.model_validate({"topic": "other", "suggestion": text})
    summary = Suggestion().summary(data)
    first = next(line for line in (" ".join(raw.split()) for raw in data.suggestion.splitlines()) if line)
    assert summary.startswith("Förslag: ") and "\n" not in summary and len(summary) <= 60
    shown = summary.removeprefix("Förslag: ")
    assert first.startswith(shown.removesuffix("…").rstrip()) if shown.endswith("…") else shown == first
