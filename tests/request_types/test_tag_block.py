"""Spärra / Återaktivera förlorad tagg: the form and its errors, filing, the automatic fulfilment end to end.

The tags and holders are the access-control simulator's demo data for the world's system; the tests find
them through the adapter, and make the system fail with the simulator's fault switch.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlmodel import col, func, select

from core.access_control import AccessControl, Holder, Tag, TagState
from core.access_control.simulator import Fault, set_fault
from core.models import ChatMessage, Request, RequestHistory, User
from core.platform import outbox
from core.platform.clock import LOCAL_ZONE, as_utc
from core.portal import Portal
from core.requests.statuses import Status
from core.testing import assert_mutations_refused, assert_round_trip, form_context, sent_mails
from core.workflow import actions as workflow
from plugins.tag_block import TagBlock
from plugins.tag_block.schema import REASON_MAX, TAG_NUMBER_MAX, TagBlockForm, check_printed_number
from tests.integration.test_api import token_for
from tests.support import World

URL = "/requests/new/tag_block"
UNAVAILABLE_SV = "Systemet svarar inte just nu – försök igen om en stund."


# --- the world's tags ------------------------------------------------------------------------------------


def adapter(portal: Portal, world: World) -> AccessControl:
    return portal.access_control(world.system)


def tags_by_holder(acs: AccessControl) -> dict[str, list[Tag]]:
    held: dict[str, list[Tag]] = {}
    for tag in acs.tags():
        if tag.holder_id:
            held.setdefault(tag.holder_id, []).append(tag)
    return held


def active_tag(acs: AccessControl, skip: int = 0) -> Tag:
    return [t for t in acs.tags() if t.state == TagState.ACTIVE and t.holder_id][skip]


def blocked_tag(acs: AccessControl) -> Tag:
    blocked = [t for t in acs.tags() if t.state == TagState.BLOCKED]
    if blocked:
        return blocked[0]
    tag = active_tag(acs, skip=5)
    acs.block_tag(tag.number, "Borttappad")
    found = acs.tag(tag.number)
    assert found is not None
    return found


def holder_with(acs: AccessControl, count: int) -> tuple[Holder, list[Tag]]:
    """A holder with exactly ``count`` tags, all active."""
    for holder_id, held in sorted(tags_by_holder(acs).items()):
        if len(held) == count and all(t.state == TagState.ACTIVE for t in held):
            holder = acs.holder(holder_id)
            assert holder is not None
            return holder, held
    raise AssertionError(f"the demo system has no holder with {count} active tags")


def holder_value(world: World, holder: Holder) -> str:
    return f"{world.system.id}:{holder.id}"


# --- the database ----------------------------------------------------------------------------------------


def count_requests(portal: Portal) -> int:
    with portal.database.reading() as s:
        return int(s.exec(select(func.count()).select_from(Request)).one())


def stored(portal: Portal, request_id: int) -> Request:
    with portal.database.reading() as s:
        found = s.get(Request, request_id)
        assert found is not None
        return found


def messages(portal: Portal, request_id: int) -> list[tuple[str, bool]]:
    with portal.database.reading() as s:
        return [
            (m.body, m.internal)
            for m in s.exec(
                select(ChatMessage).where(ChatMessage.request_id == request_id).order_by(col(ChatMessage.id))
            )
        ]


def set_language(portal: Portal, user: User, language: str) -> None:
    with portal.database.writing() as s:
        row = s.get(User, user.id)
        assert row is not None
        row.language = language
        s.add(row)


def stockholm_time(moment: Any) -> str:
    return str(as_utc(moment).astimezone(LOCAL_ZONE).strftime("%H:%M"))


def by_number(world: World, number: str, **changes: str) -> dict[str, str]:
    """The form as a browser sends it, the tag given by its number."""
    return {
        "system_id": str(world.system.id),
        "action": "block",
        "tag": "by_number",
        "tag.number": number,
        "reason": "Borttappad i tvättstugan",
        **changes,
    }


def by_holder(world: World, holder: Holder, holder_tag: str = "", **changes: str) -> dict[str, str]:
    return {
        "system_id": str(world.system.id),
        "action": "block",
        "tag": "by_holder",
        "tag.holder": holder_value(world, holder),
        "tag.holder_tag": holder_tag,
        "reason": "Stulen",
        **changes,
    }


def request_id_of(response: Any) -> int:
    assert response.status_code == 302, response.text
    match = re.match(r"/requests/(\d+)", response.headers["location"])
    assert match
    return int(match.group(1))


# --- the form --------------------------------------------------------------------------------------------


def test_first_tile_and_the_form_without_a_date(portal: Portal, world: World, web: Any) -> None:
    acs = adapter(portal, world)
    holder, _ = holder_with(acs, 1)
    web.login(world.member.email)
    start = web.get("/").text
    tiles = re.findall(r'href="/requests/new/(\w+)"', start)
    assert tiles[0] == "tag_block"
    assert "Spärra / Återaktivera förlorad tagg" in start
    assert "Här kan ni spärra samt återaktivera taggar som hyresgäster / företag tappat." in start
    page = web.get(URL).text
    for text in (
        "Vad ska göras",
        "Spärra taggen",
        "Återaktivera taggen",
        "Vilken tagg",
        "Med taggens nummer",
        "Via innehavaren",
        "Taggnummer",
        "Innehavare",
        "Vilken av innehavarens taggar",
        "Anledning",
    ):
        assert text in page, text
    assert 'type="radio"' in page and 'name="tag.holder"' in page and 'name="tag.holder_tag"' in page
    assert f'<option value="{holder_value(world, holder)}"' in page and holder.name in page
    assert f'maxlength="{TAG_NUMBER_MAX}"' in page and f'maxlength="{REASON_MAX}"' in page
    assert 'name="carry_out_on"' not in page  # a lost tag is blocked now, never later
    assert '<option value="block" selected>' in page  # blocking is what people come for


FIELD_ERRORS = [
    # (form changes, the field's DOM id, the Swedish message)
    ({"system_id": ""}, "system-id", "Fältet är obligatoriskt."),
    ({"system_id": "x"}, "system-id", "Ange ett heltal."),
    ({"action": "destroy"}, "action", "Välj ett av alternativen."),
    ({"tag": ""}, "tag", "Fältet är obligatoriskt."),
    ({"tag": "magic"}, "tag", "Välj ett av alternativen."),
    ({"tag.number": ""}, "tag-number", "Fältet är obligatoriskt."),
    ({"tag.number": "0412#33"}, "tag-number", "Ange numret som står på taggen"),
    ({"tag.number": "1" * (TAG_NUMBER_MAX + 1)}, "tag-number", f"Använd högst {TAG_NUMBER_MAX} tecken."),
    ({"tag.number": "9999 9999 99"}, "tag-number", "Det finns ingen tagg med det numret i det valda systemet."),
    ({"reason": ""}, "reason", "Fältet är obligatoriskt."),
    ({"reason": "x" * (REASON_MAX + 1)}, "reason", f"Använd högst {REASON_MAX} tecken."),
]


@pytest.mark.parametrize(("changes", "field", "message"), FIELD_ERRORS)
def test_each_field_error_is_shown_at_the_field_input_kept_nothing_saved(
    portal: Portal, world: World, web: Any, changes: dict[str, str], field: str, message: str
) -> None:
    tag = active_tag(adapter(portal, world))
    web.login(world.member.email)
    values = by_number(world, tag.number, **changes)
    response = web.post(URL, values)
    assert response.status_code == 422
    page = response.text
    assert f'id="f-{field}-error"' in page and message in page
    assert f'href="#f-{field}"' in page
    if field != "reason":
        assert 'value="Borttappad i tvättstugan"' in page  # the customer's input is kept
    assert count_requests(portal) == 0


def test_another_organisations_system_is_refused(portal: Portal, world: World, web: Any) -> None:
    tag = active_tag(adapter(portal, world))
    web.login(world.member.email)
    response = web.post(URL, by_number(world, tag.number, system_id=str(world.other_system.id)))
    assert response.status_code == 422
    assert 'id="f-system-id-error"' in response.text and "Välj ett av er organisations system." in response.text
    assert count_requests(portal) == 0


def test_blocking_a_blocked_tag_and_reactivating_an_active_one_are_field_errors(
    portal: Portal, world: World, web: Any
) -> None:
    acs = adapter(portal, world)
    blocked, active = blocked_tag(acs), active_tag(acs)
    web.login(world.member.email)
    again = web.post(URL, by_number(world, blocked.number))
    assert again.status_code == 422 and 'id="f-action-error"' in again.text
    assert f"Taggen {blocked.number} är redan spärrad. Välj ”Återaktivera taggen” om den ska fungera igen." in (
        again.text
    )
    nothing = web.post(URL, by_number(world, active.number, action="reactivate"))
    assert nothing.status_code == 422 and 'id="f-action-error"' in nothing.text
    assert f"Taggen {active.number} är inte spärrad, så det finns inget att återaktivera." in nothing.text
    assert count_requests(portal) == 0


def test_the_errors_in_english(portal: Portal, world: World, web: Any) -> None:
    blocked = blocked_tag(adapter(portal, world))
    web.login(world.member.email)
    web.post("/language", {"language": "en", "next": "/"})
    page = web.post(URL, by_number(world, blocked.number)).text
    assert f"Tag {blocked.number} is already blocked. To open it again, choose “Reactivate the tag”." in page
    page = web.post(URL, by_number(world, "9999 9999 99")).text
    assert "There is no tag with this number in the chosen system." in page


def test_through_the_holder_errors_name_the_holders_tags(portal: Portal, world: World, web: Any) -> None:
    acs = adapter(portal, world)
    holder, held = holder_with(acs, 2)
    someone_else = next(t for t in acs.tags() if t.holder_id not in (None, holder.id))
    web.login(world.member.email)

    several = web.post(URL, by_holder(world, holder))  # no tag given, but the holder has two
    assert several.status_code == 422 and 'id="f-tag-holder-tag-error"' in several.text
    assert f"{holder.name} har flera taggar: " in several.text
    assert all(t.number in several.text for t in held)
    assert f'<option value="{holder_value(world, holder)}" selected>' in several.text  # the choice is kept

    not_theirs = web.post(URL, by_holder(world, holder, someone_else.number)).text
    assert f"Taggen {someone_else.number} tillhör inte {holder.name}. Innehavarens taggar: " in not_theirs

    unknown = web.post(URL, by_holder(world, holder, "9999 9999 99")).text
    assert f"{holder.name} har ingen tagg med det numret. Innehavarens taggar: " in unknown

    door_phone_holder = adapter(portal, world).holders()[0]  # same id, but in the other system
    wrong = web.post(URL, by_holder(world, holder, **{"tag.holder": f"{world.door_phone.id}:{door_phone_holder.id}"}))
    assert wrong.status_code == 422 and 'id="f-tag-holder-error"' in wrong.text
    assert "Välj en av innehavarna i det valda systemet." in wrong.text
    missing = web.post(URL, by_holder(world, holder, **{"tag.holder": ""}))
    assert 'id="f-tag-holder-error"' in missing.text and "Fältet är obligatoriskt." in missing.text
    too_long = web.post(URL, by_holder(world, holder, "1" * (TAG_NUMBER_MAX + 1))).text
    assert 'id="f-tag-holder-tag-error"' in too_long and f"Använd högst {TAG_NUMBER_MAX} tecken." in too_long
    odd = web.post(URL, by_holder(world, holder, "12/34")).text
    assert 'id="f-tag-holder-tag-error"' in odd and "Ange numret som står på taggen" in odd
    assert count_requests(portal) == 0


def test_last_digits_that_fit_several_of_the_holders_tags_are_refused(portal: Portal, world: World, web: Any) -> None:
    acs = adapter(portal, world)
    pairs = [
        (holder_id, a, b)
        for holder_id, held in sorted(tags_by_holder(acs).items())
        for a in held
        for b in held
        if a.number < b.number and a.number[-1] == b.number[-1]
    ]
    assert pairs, "the demo system has no holder with two tags ending in the same digit"
    holder_id, first, second = pairs[0]
    holder = acs.holder(holder_id)
    assert holder is not None
    web.login(world.member.email)
    page = web.post(URL, by_holder(world, holder, first.number[-1]))
    assert page.status_code == 422 and 'id="f-tag-holder-tag-error"' in page.text
    assert "Fler än en av innehavarens taggar slutar med de siffrorna: " in page.text
    assert first.number in page.text and second.number in page.text
    assert count_requests(portal) == 0


def test_the_form_opens_while_the_system_is_down_and_says_to_type_the_number(
    portal: Portal, world: World, web: Any
) -> None:
    acs = adapter(portal, world)
    holder, _tags = holder_with(acs, 1)
    web.login(world.member.email)
    set_fault(portal.database, world.system.id or 0, Fault.UNAVAILABLE)
    page = web.get(URL)
    assert page.status_code == 200
    assert "Innehavarna i Passersystem A kan inte visas just nu" in page.text and 'class="notice warning"' in page.text
    refused = web.post(URL, by_holder(world, holder))  # a holder chosen before the system went down
    assert refused.status_code == 422 and 'id="f-tag-holder-error"' in refused.text
    assert "Välj ”Med taggens nummer”" in refused.text and count_requests(portal) == 0
    set_fault(portal.database, world.system.id or 0)
    assert "kan inte visas just nu" not in web.get(URL).text


# --- filing and the automatic fulfilment -----------------------------------------------------------------


def test_a_block_through_the_form_is_carried_out_at_once(portal: Portal, world: World, make_web: Any) -> None:
    acs = adapter(portal, world)
    tag = active_tag(acs)
    customer = make_web()
    customer.login(world.member.email)
    typed = tag.number.replace(" ", "")  # typed without the blanks: stored as the system writes it
    request_id = request_id_of(customer.post(URL, by_number(world, typed), follow_redirects=False))
    filed = stored(portal, request_id)
    assert filed.status == Status.PENDING and filed.priority == 1 and filed.carry_out_on is None
    assert filed.summary == f"Spärr av tagg {tag.number}" and filed.data["tag"]["number"] == tag.number
    assert filed.system_id == world.system.id

    outbox.drain(portal)

    done = stored(portal, request_id)
    assert done.status == Status.COMPLETED and not done.needs_attention and done.assignee_id is None
    now_blocked = acs.tag(tag.number)
    assert now_blocked is not None and now_blocked.state == TagState.BLOCKED
    line = f"Taggen {tag.number} är spärrad sedan {stockholm_time(now_blocked.changed_at)}."
    assert line == f"Taggen {tag.number} är spärrad sedan 10:00."  # 09:00 UTC on the test clock
    chat_lines = messages(portal, request_id)
    assert [body for body, internal in chat_lines if not internal] == [line]
    notes = [body for body, internal in chat_lines if internal]
    assert len(notes) == 1 and "Passersystem A: taggen" in notes[0] and "Systemet ändrade taggen." in notes[0]
    assert "previous_state=active" in notes[0]

    page = customer.get(f"/requests/{request_id}").text
    assert "Slutfört" in page and line in page and "Systemet ändrade taggen." not in page
    staff = make_web()
    staff.login(world.staff.email)
    staff_page = staff.get(f"/staff/requests/{request_id}").text
    assert line in staff_page and "Systemet ändrade taggen." in staff_page and "Intern anteckning" in staff_page
    with portal.database.reading() as s:
        actions = [h.action for h in s.exec(select(RequestHistory).where(RequestHistory.request_id == request_id))]
    assert actions == ["file", "start_fulfilment", "fulfilment_succeeded"]


def test_the_chat_line_is_in_the_requesters_language(portal: Portal, world: World) -> None:
    tag = active_tag(adapter(portal, world))
    set_language(portal, world.member, "en")
    with portal.database.reading() as s:
        member = s.get(User, world.member.id)
    assert member is not None
    filed = workflow.file(portal, member, "tag_block", _payload(world, tag.number), None)
    outbox.drain(portal)
    customer_lines = [body for body, internal in messages(portal, filed.id or 0) if not internal]
    assert customer_lines == [f"Tag {tag.number} has been blocked since 10:00."]
    notes = [body for body, internal in messages(portal, filed.id or 0) if internal]
    assert notes and notes[0].startswith("Passersystem A: taggen")  # staff notes in the portal's language


def test_a_reactivation_is_not_urgent_and_says_the_tag_is_active_again(portal: Portal, world: World) -> None:
    acs = adapter(portal, world)
    tag = blocked_tag(acs)
    portal.clock.advance(timedelta(hours=4, minutes=2))  # type: ignore[attr-defined]
    filed = workflow.file(portal, world.admin, "tag_block", _payload(world, tag.number, action="reactivate"), None)
    assert filed.priority == 0 and filed.summary == f"Återaktivering av tagg {tag.number}"
    outbox.drain(portal)
    assert stored(portal, filed.id or 0).status == Status.COMPLETED
    found = acs.tag(tag.number)
    assert found is not None and found.state == TagState.ACTIVE
    assert (f"Taggen {tag.number} är åter aktiv sedan 14:02.", False) in messages(portal, filed.id or 0)


def test_through_the_holder_by_the_api_and_shown_with_the_holders_name(portal: Portal, world: World, web: Any) -> None:
    acs = adapter(portal, world)
    only, (its_tag,) = holder_with(acs, 1)
    two, held = holder_with(acs, 2)
    headers = token_for(portal, world.member)
    response = web.client.post(
        "/api/v1/requests",
        headers=headers,
        json={"type": "tag_block", "data": _holder_payload(world, only)},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["data"]["tag"] == {
        "kind": "by_holder",
        "holder": holder_value(world, only),
        "holder_tag": its_tag.number,
    }
    assert body["summary"] == f"Spärr av tagg {its_tag.number}" and body["priority"] == 1

    wanted, other = held[1], held[0]
    digits, others = wanted.number.replace(" ", ""), other.number.replace(" ", "")
    ending = next(digits[-n:] for n in range(1, len(digits) + 1) if not others.endswith(digits[-n:]))
    second = web.client.post(  # the shortest ending that only the wanted tag has is enough
        "/api/v1/requests",
        headers=headers,
        json={"type": "tag_block", "data": _holder_payload(world, two, holder_tag=ending)},
    )
    assert second.status_code == 201 and second.json()["data"]["tag"]["holder_tag"] == wanted.number

    outbox.drain(portal)
    assert acs.tag(its_tag.number).state == TagState.BLOCKED  # type: ignore[union-attr]
    web.login(world.member.email)
    page = web.get(f"/requests/{body['id']}").text
    assert "Via innehavaren" in page and only.name in page and its_tag.number in page
    assert holder_value(world, only) not in page  # the holder is shown by name, not by the stored value


def test_api_errors_are_field_level(portal: Portal, world: World, web: Any) -> None:
    acs = adapter(portal, world)
    blocked = blocked_tag(acs)
    headers = token_for(portal, world.member)
    response = web.client.post(
        "/api/v1/requests", headers=headers, json={"type": "tag_block", "data": _payload(world, blocked.number)}
    )
    assert response.status_code == 422 and set(response.json()["errors"]) == {"action"}
    response = web.client.post(
        "/api/v1/requests",
        headers=headers,
        json={"type": "tag_block", "data": {**_payload(world, "0412"), "reason": "", "colour": "red"}},
    )
    assert response.status_code == 422 and set(response.json()["errors"]) == {"reason", "colour"}
    assert count_requests(portal) == 0


def test_it_cannot_be_scheduled(portal: Portal, world: World, web: Any) -> None:
    tag = active_tag(adapter(portal, world))
    later = (portal.clock.now() + timedelta(days=3)).date().isoformat()
    headers = token_for(portal, world.member)
    refused = web.client.post(
        "/api/v1/requests",
        headers=headers,
        json={"type": "tag_block", "data": _payload(world, tag.number), "carry_out_on": later},
    )
    assert refused.status_code == 422 and set(refused.json()["errors"]) == {"carry_out_on"}
    web.login(world.member.email)
    page = web.post(URL, {**by_number(world, tag.number), "carry_out_on": later})  # a hand-made form post
    assert page.status_code == 422 and "kan inte schemaläggas" in page.text
    assert count_requests(portal) == 0
    detail = web.client.get("/api/v1/request-types/tag_block", headers=headers).json()
    assert detail["allows_carry_out_on"] is False and detail["fulfilment_mode"] == "automatic"
    today = portal.clock.now().astimezone(LOCAL_ZONE).date().isoformat()
    accepted = web.client.post(
        "/api/v1/requests",
        headers=headers,
        json={"type": "tag_block", "data": _payload(world, tag.number), "carry_out_on": today},
    )
    assert accepted.status_code == 201 and accepted.json()["status"] == "pending"


def test_a_block_goes_first_in_the_queue_marked_urgent(portal: Portal, world: World, make_web: Any) -> None:
    older = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    portal.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    number = active_tag(adapter(portal, world)).number
    block = workflow.file(portal, world.member, "tag_block", _payload(world, number), None)
    staff = make_web()
    staff.login(world.staff.email)
    queue = staff.get("/staff/queue").text
    assert queue.index(f">{block.number}<") < queue.index(f">{older.number}<")
    row = queue[queue.index(f">{block.number}<") :].split("</tr>")[0]
    assert "Brådskande" in row
    refused = staff.post(f"/staff/requests/{block.id}/take")  # the worker takes it, not staff
    assert refused.status_code == 409
    outbox.drain(portal)
    assert stored(portal, block.id or 0).status == Status.COMPLETED


# --- failures and retries --------------------------------------------------------------------------------


def pending_fulfil_rows(portal: Portal, request_id: int) -> list[outbox.OutboxMessage]:
    with portal.database.reading() as s:
        rows = s.exec(
            select(outbox.OutboxMessage).where(
                outbox.OutboxMessage.topic == "fulfil", outbox.OutboxMessage.status == "pending"
            )
        )
        return [row for row in rows if row.payload.get("request_id") == request_id]


def down(portal: Portal, world: World, fault: Fault = Fault.UNAVAILABLE) -> None:
    set_fault(portal.database, world.system.id or 0, fault)


def test_a_lost_tag_is_received_while_the_system_is_down_and_blocked_when_it_answers(
    portal: Portal, world: World, make_web: Any
) -> None:
    acs = adapter(portal, world)
    tag = active_tag(acs)
    customer = make_web()
    customer.login(world.member.email)
    down(portal, world)
    request_id = request_id_of(customer.post(URL, by_number(world, tag.number), follow_redirects=False))
    outbox.drain(portal)

    waiting = stored(portal, request_id)
    assert waiting.status == Status.IN_PROGRESS and waiting.fulfilment_running and not waiting.needs_attention
    (note, internal), (told, to_customer) = messages(portal, request_id)
    assert internal and "kunde inte spärras ännu – systemet svarade inte" in note
    assert not to_customer and told == (
        f"Ert ärende är mottaget. Passersystem A svarar inte just nu; taggen {tag.number} spärras så snart systemet "
        "svarar – vi fortsätter att försöka, och ni får ett meddelande här och via e-post så fort det är gjort. "
        "Om det är bråttom, ring Kontor Test på 08-1234500."
    )
    [row] = pending_fulfil_rows(portal, request_id)
    assert row.available_at > portal.clock.now()  # retried later, not at once
    page = customer.get(f"/requests/{request_id}").text
    assert "Under hantering" in page and "Kräver åtgärd" not in page and "mottaget" in page
    again = customer.post(URL, by_number(world, tag.number))  # the same block again, while the first waits
    assert again.status_code == 422 and f"Taggen {tag.number} spärras redan i BB-{request_id}" in again.text

    for _ in range(3):  # still down: retried with growing pauses, and nobody is told again
        portal.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
        outbox.drain(portal)
    assert len(messages(portal, request_id)) == 2 and len(pending_fulfil_rows(portal, request_id)) == 1

    down(portal, world, Fault.NONE)  # the system answers again
    assert acs.tag(tag.number).state == TagState.ACTIVE  # type: ignore[union-attr]
    portal.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    outbox.drain(portal)
    done = stored(portal, request_id)
    assert done.status == Status.COMPLETED and not done.fulfilment_running and not done.needs_attention
    assert acs.tag(tag.number).state == TagState.BLOCKED  # type: ignore[union-attr]
    assert messages(portal, request_id)[-1] == (f"Taggen {tag.number} är spärrad sedan 10:11.", False)
    assert not pending_fulfil_rows(portal, request_id)
    subjects = [m["Subject"] for m in sent_mails(portal)]
    assert len(subjects) == 2 and "Slutfört" in subjects[-1]  # the receipt and the result, nothing in between


def test_a_block_not_done_in_time_flags_the_request_and_mails_the_office_once(
    portal: Portal, world: World, make_web: Any
) -> None:
    acs = adapter(portal, world)
    tag = active_tag(acs)
    down(portal, world)
    filed = workflow.file(portal, world.member, "tag_block", _payload(world, tag.number), None)
    outbox.drain(portal)
    for _ in range(4):  # 4 × 4 minutes: past the 15 minutes of BBPORTAL_FULFILMENT_ALERT_MINUTES
        portal.clock.advance(timedelta(minutes=4))  # type: ignore[attr-defined]
        outbox.drain(portal)
    flagged = stored(portal, filed.id or 0)
    assert flagged.needs_attention and flagged.fulfilment_running and flagged.status == Status.IN_PROGRESS
    alerts = [m for m in sent_mails(portal) if m["To"] == "kontor@bbgruppen.example"]
    assert len(alerts) == 1 and f"[{filed.number}] Inte utfört efter 15 minuter" in alerts[0]["Subject"]
    assert "Portalen fortsätter att försöka" in alerts[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with portal.database.reading() as s:
        actions = [h.action for h in s.exec(select(RequestHistory).where(RequestHistory.request_id == filed.id))]
    assert actions.count("fulfilment_delayed") == 1

    customer = make_web()
    customer.login(world.member.email)
    page = customer.get(f"/requests/{filed.id}").text
    assert "Kräver åtgärd" not in page and "Vår personal har fått besked" in page
    assert "Kräver åtgärd" not in customer.get("/requests").text
    staff = make_web()
    staff.login(world.staff.email)
    staff_page = staff.get(f"/staff/requests/{filed.id}").text
    assert "Kräver åtgärd" in staff_page and "Det automatiska steget dröjer" in staff_page
    assert "Försök igen" in staff_page
    assert staff.post(f"/staff/requests/{filed.id}/carry_out").status_code in (200, 302)  # retry now, still down
    portal.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    outbox.drain(portal)
    assert len(pending_fulfil_rows(portal, filed.id or 0)) == 1  # one chain of retries, not two
    assert len([m for m in sent_mails(portal) if m["To"] == "kontor@bbgruppen.example"]) == 1

    down(portal, world, Fault.NONE)
    portal.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    outbox.drain(portal)
    done = stored(portal, filed.id or 0)
    assert done.status == Status.COMPLETED and not done.needs_attention
    assert acs.tag(tag.number).state == TagState.BLOCKED  # type: ignore[union-attr]


def test_staff_can_take_over_a_delayed_block_and_the_retries_stop(portal: Portal, world: World, make_web: Any) -> None:
    tag = active_tag(adapter(portal, world))
    down(portal, world)
    portal.settings.fulfilment_alert_minutes = 1
    filed = workflow.file(portal, world.member, "tag_block", _payload(world, tag.number), None)
    outbox.drain(portal)
    portal.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    outbox.drain(portal)
    assert stored(portal, filed.id or 0).needs_attention
    staff = make_web()
    staff.login(world.staff.email)
    assert staff.post(f"/staff/requests/{filed.id}/take").status_code in (200, 302)
    taken = stored(portal, filed.id or 0)
    assert taken.assignee_id == world.staff.id and not taken.fulfilment_running and not taken.needs_attention
    portal.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    outbox.drain(portal)
    assert not pending_fulfil_rows(portal, filed.id or 0)  # the chain ended with the take-over
    assert staff.post(f"/staff/requests/{filed.id}/complete").status_code in (200, 302)
    assert stored(portal, filed.id or 0).status == Status.COMPLETED


def test_a_reactivation_filed_while_the_block_is_retried_waits_for_it(
    portal: Portal, world: World, make_web: Any
) -> None:
    acs = adapter(portal, world)
    tag = active_tag(acs)
    down(portal, world)
    block = workflow.file(portal, world.member, "tag_block", _payload(world, tag.number), None)
    outbox.drain(portal)  # postponed: the system does not answer
    down(portal, world, Fault.NONE)  # it answers again, before the block's next try
    customer = make_web()
    customer.login(world.member.email)
    # The tag is still active in the system, but the block ahead of it is owed: the reactivation is accepted.
    request_id = request_id_of(
        customer.post(URL, by_number(world, tag.number, action="reactivate", reason="Hittad"), follow_redirects=False)
    )
    outbox.drain(portal)
    assert stored(portal, request_id).status == Status.IN_PROGRESS  # it waits for the block
    assert acs.tag(tag.number).state == TagState.ACTIVE  # type: ignore[union-attr]
    assert messages(portal, request_id)[-1] == (
        f"Det här ärendet utförs så snart {block.number}, som skickades in tidigare om samma sak, är klart.",
        False,
    )
    portal.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    outbox.drain(portal)
    first, second = stored(portal, block.id or 0), stored(portal, request_id)
    assert first.status == second.status == Status.COMPLETED
    with portal.database.reading() as s:
        done = {
            h.request_id: h.id
            for h in s.exec(select(RequestHistory).where(RequestHistory.action == "fulfilment_succeeded"))
        }
    assert done[block.id] < done[request_id]  # the block first, then the reactivation
    assert acs.tag(tag.number).state == TagState.ACTIVE  # type: ignore[union-attr]


def test_a_reactivation_of_an_active_tag_with_nothing_owed_is_still_refused(
    portal: Portal, world: World, web: Any
) -> None:
    tag = active_tag(adapter(portal, world))
    web.login(world.member.email)
    refused = web.post(URL, by_number(world, tag.number, action="reactivate"))
    assert refused.status_code == 422 and f"Taggen {tag.number} är inte spärrad" in refused.text


def test_a_number_filed_while_the_system_was_down_is_checked_when_it_answers(portal: Portal, world: World) -> None:
    down(portal, world)
    filed = workflow.file(portal, world.member, "tag_block", _payload(world, "9999 0000 11"), None)
    outbox.drain(portal)
    down(portal, world, Fault.NONE)
    portal.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    outbox.drain(portal)
    failed = stored(portal, filed.id or 0)
    assert failed.status == Status.IN_PROGRESS and failed.needs_attention and not failed.fulfilment_running
    customer_lines = [body for body, internal in messages(portal, filed.id or 0) if not internal]
    assert customer_lines[-1] == (
        "Det finns ingen tagg 9999 0000 11 i Passersystem A, så inget har ändrats. Kontrollera numret som står på "
        "taggen och skicka in ett nytt ärende; vår personal tittar också på det här."
    )


def test_a_refusing_system_leaves_a_note_and_the_request_open(portal: Portal, world: World) -> None:
    tag = active_tag(adapter(portal, world))
    set_fault(portal.database, world.system.id or 0, Fault.REFUSE)
    filed = workflow.file(portal, world.member, "tag_block", _payload(world, tag.number), None)  # lookups answer
    outbox.drain(portal)
    failed = stored(portal, filed.id or 0)
    assert failed.status == Status.IN_PROGRESS and failed.needs_attention
    [(note, internal)] = messages(portal, filed.id or 0)
    assert internal and "systemet vägrade" in note and "AccessControlRefused" in note


def test_a_block_that_already_happened_counts_as_done(portal: Portal, world: World) -> None:
    """After a crash between the adapter's call and the commit, the retry finds the tag blocked: success."""
    acs = adapter(portal, world)
    tag = active_tag(acs)
    filed = workflow.file(portal, world.member, "tag_block", _payload(world, tag.number), None)
    acs.block_tag(tag.number, "Borttappad i tvättstugan")  # the first run's call went through …
    portal.clock.advance(timedelta(minutes=3))  # type: ignore[attr-defined]
    outbox.drain(portal)  # … and this is the retry
    assert stored(portal, filed.id or 0).status == Status.COMPLETED
    chat_lines = messages(portal, filed.id or 0)
    assert (f"Taggen {tag.number} är spärrad sedan 10:00.", False) in chat_lines  # when it took effect
    assert any(internal and "inget ändrades" in body for body, internal in chat_lines)


def test_the_fulfilment_is_idempotent_when_called_twice(portal: Portal, world: World) -> None:
    from core.requests.context import FulfilmentContext

    acs = adapter(portal, world)
    tag = active_tag(acs)
    filed = workflow.file(portal, world.member, "tag_block", _payload(world, tag.number), None)
    context = FulfilmentContext(
        database=portal.database, clock=portal.clock, settings=portal.settings, storage=portal.storage, portal=portal
    )
    request = stored(portal, filed.id or 0)
    first = TagBlock().fulfil(request, context)
    portal.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    second = TagBlock().fulfil(request, context)
    assert first.ok and second.ok and first.customer_message == second.customer_message
    assert first.details["changed"] is True and second.details["changed"] is False


# --- the contract and the pieces -------------------------------------------------------------------------


def test_reactivations_keep_the_plugin_contract(portal: Portal, world: World) -> None:
    """The installed-types check draws blocks (its generator may leave the action to its default, "block");
    reactivations of blocked tags, by number as printed or typed without blanks, are checked here."""
    acs = adapter(portal, world)
    blocked_tag(acs)
    blocked = sorted(t.number for t in acs.tags() if t.state == TagState.BLOCKED)
    request_type = portal.registry.require("tag_block")
    with form_context(portal, world.member) as context:
        for number in blocked[:4]:
            for typed in (number, number.replace(" ", "")):
                payload = _payload(world, typed, action="reactivate")
                assert_round_trip(request_type, context, payload)
                assert_mutations_refused(request_type, context, payload)


@given(st.lists(st.text(alphabet="0123456789ABCDEFabcdef", min_size=1, max_size=5), min_size=1, max_size=5))
def test_printed_numbers_keep_their_groups_with_single_blanks(groups: list[str]) -> None:
    assert check_printed_number("  " + "   ".join(groups) + " ") == " ".join(groups)


def _odd(character: str) -> bool:
    return not (character.isascii() and character.isalnum()) and character != "-" and not character.isspace()


@given(st.text(min_size=1, max_size=20).filter(lambda text: any(_odd(c) for c in text)))
def test_anything_else_is_not_a_tag_number(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TagBlockForm.model_validate({"system_id": 1, "tag": {"kind": "by_number", "number": text}, "reason": "x"})
    assert {e["loc"] for e in caught.value.errors()} <= {("tag", "by_number", "number")}


def test_urgent_only_when_blocking() -> None:
    block = TagBlockForm.model_validate({"system_id": 1, "tag": {"kind": "by_number", "number": "1"}, "reason": "x"})
    reactivate = block.model_copy(update={"action": "reactivate"})
    assert TagBlock().is_urgent(block) and not TagBlock().is_urgent(reactivate)


def _payload(world: World, number: str, **changes: Any) -> dict[str, Any]:
    return {
        "system_id": world.system.id,
        "action": "block",
        "tag": {"kind": "by_number", "number": number},
        "reason": "Borttappad i tvättstugan",
        **changes,
    }


def _holder_payload(world: World, holder: Holder, holder_tag: str = "") -> dict[str, Any]:
    return {
        "system_id": world.system.id,
        "tag": {"kind": "by_holder", "holder": holder_value(world, holder), "holder_tag": holder_tag},
        "reason": "Stulen",
    }


def test_the_holders_offered_are_the_chosen_systems(portal: Portal, world: World, web: Any) -> None:
    """One access-control system: it is chosen from the start, and only its holders are offered, unprefixed."""
    web.login(world.member.email)
    page = web.get(URL).text
    system_select = page.split('name="system_id"')[1].split("</select>")[0]
    assert f'value="{world.system.id}" selected' in system_select  # the only system the type takes: preselected
    holders = page.split('name="tag.holder"')[1].split("</select>")[0]
    own = portal.access_control(world.system).holders()
    assert holders.count("<option value=") == len(own) + 1  # "Choose…" and the system's holders, no more
    assert f"{world.system.name}:" not in holders and "<optgroup" not in holders
    assert f'value="{world.other_system.id}:' not in holders  # another organisation's holders never
