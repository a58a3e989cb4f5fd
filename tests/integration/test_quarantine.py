"""The quarantine: staff attach a mail to an open request of the sender's organisation, or file it as a new
request through the chosen type's own form, for a user of the organisation, with the mail as its first message."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, Field
from sqlmodel import col, select

from core.api import RequestType, hookimpl
from core.conversation import intake
from core.models import ChatMessage, InboundMail, Request, RequestHistory
from core.platform import outbox
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.requests.lifecycle import Action
from core.requests.statuses import Status
from core.workflow import actions as workflow
from tests.integration.test_intake import reply, waiting_request
from tests.support import World


class KeyForm(BaseModel):
    reason: str = Field(min_length=1, max_length=200, title="Reason")


class MasterKey(RequestType):
    """A type only the organisation's administrators may file (the quarantine must respect that too)."""

    key = "master_key"
    name = "Master key"
    schema = KeyForm
    administrators_only: ClassVar[bool] = True


class MasterKeyPlugin:
    @hookimpl
    def bbportal_request_types(self) -> list[RequestType]:
        return [MasterKey()]


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [MasterKeyPlugin()]


def closed_request_mail(
    portal: Portal, world: World, sender: str, body: str, reason: str = "the request is closed"
) -> tuple[Request, int]:
    """A request staff rejected, and a mail answering it (quarantined)."""
    request = waiting_request(portal, world)
    workflow.perform(portal, world.staff, request.id or 0, Action.REJECT, reason="Dubblett")
    outcome = intake.receive(portal, reply(portal, request, sender, body))
    assert (outcome.status, outcome.reason) == ("quarantined", reason)
    return request, outcome.inbound_mail_id


def test_an_answer_to_a_closed_request_becomes_a_new_request(portal: Portal, world: World, web: Any) -> None:
    closed, mail_id = closed_request_mail(
        portal, world, world.member.email, "Låset i källaren har gått sönder igen.\n\nMvh Maja"
    )
    web.login(world.staff.email)
    page = web.get(f"/staff/quarantine/{mail_id}").text
    assert "Registrera som ett nytt ärende" in page and 'value="maja@testet.example"' in page
    assert "ärendet är avslutat" in page and "ärendet är avslutat" in web.get("/staff/quarantine").text
    form = web.get(f"/staff/quarantine/{mail_id}/new", params={"type": "fault_report", "user": "MAJA@testet.example"})
    assert form.status_code == 200
    assert "Nytt ärende från e-post: Felanmälan" in form.text and "Maja Medlem (Brf Testet)" in form.text
    # The mail's text is prefilled where the form takes a longer text; the choices are the organisation's.
    assert ">Låset i källaren har gått sönder igen.\n\nMvh Maja</textarea>" in form.text
    assert "Passersystem A" in form.text and "Passersystem B" not in form.text
    assert 'type="file"' not in form.text  # the mail's own attachments go with it; this form takes no files
    missing = web.post(
        f"/staff/quarantine/{mail_id}/new",
        {"type": "fault_report", "user": world.member.email, "description": "Låset i källaren."},
    )
    assert missing.status_code == 422 and "Kontaktperson" in missing.text
    with portal.database.reading() as session:
        assert session.get(InboundMail, mail_id).status == "quarantined"  # type: ignore[union-attr]
    done = web.post(
        f"/staff/quarantine/{mail_id}/new",
        {
            "type": "fault_report",
            "user": world.member.email,
            "system_id": str(world.system.id),
            "location": "Källaren",
            "description": "Låset i källaren har gått sönder igen.",
            "urgency": "normal",
            "contact_name": "Maja Medlem",
            "contact_phone": "070-123 45 67",
        },
        follow_redirects=False,
    )
    assert done.status_code in (302, 303)
    new_id = int(done.headers["location"].split("?")[0].rsplit("/", 1)[1])
    assert new_id != closed.id
    shown = web.get(done.headers["location"]).text
    assert "Låset i källaren har gått sönder igen." in shown and "Mvh Maja" in shown
    with portal.database.reading() as session:
        filed = session.get(Request, new_id)
        assert filed is not None and filed.requester_id == world.member.id and filed.status == Status.PENDING
        [first] = session.exec(select(ChatMessage).where(ChatMessage.request_id == new_id))
        assert first.author_id == world.member.id and first.via == "email" and first.inbound_mail_id == mail_id
        assert first.body == "Låset i källaren har gått sönder igen.\n\nMvh Maja"
        [history] = session.exec(select(RequestHistory).where(RequestHistory.request_id == new_id))
        assert history.actor_id == world.staff.id and history.reason.startswith("Filed by Henrik Handläggare")
        mail = session.get(InboundMail, mail_id)
        assert mail is not None and (mail.status, mail.request_id, mail.chat_message_id) == (
            "attached",
            new_id,
            first.id,
        )
        receipts = session.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.topic) == "request_filed", OutboxMessage.created_at >= filed.created_at
            )
        ).all()
        assert [r.payload["request_id"] for r in receipts][-1] == new_id
    again = web.post(f"/staff/quarantine/{mail_id}/new", {"type": "fault_report", "user": world.member.email})
    assert again.status_code == 404  # handled: no second request from the same mail
    assert "Karantänen är tom." in web.get("/staff/quarantine").text
    outbox.drain(portal)


def test_a_stranger_s_mail_is_filed_for_a_user_the_staff_choose(portal: Portal, world: World, web: Any) -> None:
    _closed, mail_id = closed_request_mail(
        portal,
        world,
        "granne@annanstans.example",
        "Porten står öppen.",
        "the sender is not a user of the request's organisation",
    )
    web.login(world.staff.email)
    page = web.get(f"/staff/quarantine/{mail_id}").text
    assert 'name="user" type="email" value=""' in page
    done = web.post(
        f"/staff/quarantine/{mail_id}/new",
        {
            "type": "fault_report",
            "user": world.admin.email,
            "system_id": str(world.system.id),
            "location": "Porten",
            "description": "Porten står öppen.",
            "urgency": "urgent",
            "contact_name": "Anna Admin",
            "contact_phone": "070-123 45 67",
        },
        follow_redirects=False,
    )
    new_id = int(done.headers["location"].split("?")[0].rsplit("/", 1)[1])
    with portal.database.reading() as session:
        [first] = session.exec(select(ChatMessage).where(ChatMessage.request_id == new_id))
        filed = session.get(Request, new_id)
    assert first.author_id is None and first.body == "granne@annanstans.example:\nPorten står öppen."
    assert filed is not None and filed.requester_id == world.admin.id and filed.priority == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"type": "", "user": "maja@testet.example"}, "Välj en begärantyp."),
        ({"type": "no_such_type", "user": "maja@testet.example"}, "Välj en begärantyp."),
        ({"type": "fault_report", "user": "nobody@testet.example"}, "Det finns ingen aktiv kundanvändare"),
        ({"type": "fault_report", "user": "henrik@bbgruppen.example"}, "Det finns ingen aktiv kundanvändare"),
        ({"type": "master_key", "user": "maja@testet.example"}, "Bara organisationens administratörer"),
    ],
)
def test_staff_are_told_what_to_choose(
    portal: Portal, world: World, web: Any, query: dict[str, str], message: str
) -> None:
    _closed, mail_id = closed_request_mail(portal, world, world.member.email, "Hej")
    web.login(world.staff.email)
    answer = web.get(f"/staff/quarantine/{mail_id}/new", params=query)
    assert answer.status_code == 422 and message in answer.text
    assert (
        web.get(
            f"/staff/quarantine/{mail_id}/new", params={"type": "master_key", "user": world.admin.email}
        ).status_code
        == 200
    )


def test_open_requests_of_the_sender_s_organisation_are_one_click_away(portal: Portal, world: World, web: Any) -> None:
    _closed, mail_id = closed_request_mail(portal, world, world.member.email, "Och dörren i garaget också.")
    other = workflow.file(portal, world.admin, "fault_report", world.fault(location="Garaget"), None)
    theirs = workflow.file(
        portal, world.outsider, "fault_report", {**world.fault(), "system_id": world.other_system.id}, None
    )
    web.login(world.staff.email)
    page = web.get(f"/staff/quarantine/{mail_id}").text
    assert f"Koppla till BB-{other.id}" in page and f"BB-{theirs.id}" not in page
    attached = web.post(f"/staff/quarantine/{mail_id}/attach", {"request": f"BB-{other.id}"}, follow_redirects=True)
    assert "Och dörren i garaget också." in attached.text


def test_customers_cannot_reach_the_quarantine(portal: Portal, world: World, web: Any) -> None:
    _closed, mail_id = closed_request_mail(portal, world, world.member.email, "Hej")
    web.login(world.member.email)
    assert web.get(f"/staff/quarantine/{mail_id}/new", params={"type": "fault_report"}).status_code in (403, 404)
    assert web.post(f"/staff/quarantine/{mail_id}/new", {"type": "fault_report"}).status_code in (403, 404)
