"""Attachments of e-mail answers: kept on the chat message, checked like uploads; a refused one is noted, never lost."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from core.conversation import intake
from core.mail import reply_tokens
from core.models import Attachment, ChatMessage, InboundMail, Request
from core.platform.settings import Settings
from core.portal import Portal
from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from tests import files
from tests.integration.test_intake import waiting_request
from tests.support import World

LIMIT_MB = 0.05


@pytest.fixture
def test_settings(test_settings: Settings) -> Settings:
    test_settings.attachment_max_mb = LIMIT_MB
    return test_settings


def mail_with(portal: Portal, request: Request, sender: str, body: str, *parts: tuple[str, bytes, str]) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = reply_tokens.address(portal.secret_key, portal.settings.reply_domain, request.id or 0, 2)
    message["Subject"] = f"SV: [BB-{request.id}] Väntar på kund"
    message["Message-ID"] = "<bilagor@mail.kund.example>"
    message.set_content(body)
    for name, content, content_type in parts:
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return bytes(message)


def posted(portal: Portal, request_id: int) -> tuple[ChatMessage, list[Attachment]]:
    with portal.database.reading() as s:
        message = s.exec(
            select(ChatMessage).where(ChatMessage.request_id == request_id, ChatMessage.via == "email")
        ).one()
        rows = list(s.exec(select(Attachment).where(Attachment.message_id == message.id).order_by(col(Attachment.id))))
    return message, rows


def stored(portal: Portal) -> list[Path]:
    root = portal.settings.resolved_storage_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_replys_attachments_are_kept_and_a_refused_one_is_noted(portal: Portal, world: World, web: Any) -> None:
    request = waiting_request(portal, world)
    raw = mail_with(
        portal,
        request,
        world.member.email,
        "Bilder och protokoll bifogade.",
        ("dörren.png", files.png(), "image/png"),
        ("protokoll.pdf", files.pdf(), "application/pdf"),
        ("x.exe", files.exe(), "application/octet-stream"),
        ("logga.pdf", files.html(), "application/pdf"),  # what the mail says it is counts for nothing
    )
    outcome = intake.receive(portal, raw)
    assert outcome.status == "attached"
    message, rows = posted(portal, request.id or 0)
    assert [(r.filename, r.content_type) for r in rows] == [
        ("dörren.png", "image/png"),
        ("protokoll.pdf", "application/pdf"),
    ]
    assert all(r.uploaded_by_id == world.member.id and not r.internal for r in rows)
    assert message.body == (
        "Bilder och protokoll bifogade.\n\n"
        "(bilagan x.exe togs inte emot: filtypen är inte tillåten)\n"
        "(bilagan logga.pdf togs inte emot: filtypen är inte tillåten)"
    )
    with portal.database.reading() as s:
        mail = s.get(InboundMail, outcome.inbound_mail_id)
        assert mail is not None and mail.raw == raw  # the original mail, with every attachment, stays stored
    assert len(stored(portal)) == 2
    web.login(world.staff.email)
    page = web.get(f"/staff/requests/{request.id}").text
    assert "protokoll.pdf" in page and "bilagan x.exe togs inte emot" in page


def test_a_mail_with_only_an_attachment_and_oversized_ones(portal: Portal, world: World) -> None:
    request = waiting_request(portal, world)
    big = files.pdf() + b"%" * int(LIMIT_MB * 1024 * 1024)
    raw = mail_with(
        portal,
        request,
        world.member.email,
        "",
        ("foto.jpg", files.jpeg(), "image/jpeg"),
        ("stor.pdf", big, "application/pdf"),
    )
    assert intake.receive(portal, raw).status == "attached"
    message, rows = posted(portal, request.id or 0)
    assert [r.filename for r in rows] == ["foto.jpg"]
    assert message.body == "(bilagan stor.pdf togs inte emot: filen är större än 0,05 MB)"


def test_an_answer_to_a_closed_request_keeps_no_files(portal: Portal, world: World) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(portal, world.member, filed.id or 0, Action.WITHDRAW)
    raw = mail_with(portal, filed, world.member.email, "Hej", ("a.png", files.png(), "image/png"))
    outcome = intake.receive(portal, raw)
    assert outcome.status == "quarantined"
    assert stored(portal) == []


def test_more_than_ten_attachments_are_noted(portal: Portal, world: World) -> None:
    request = waiting_request(portal, world)
    parts = [(f"{n:02}.png", files.png(), "image/png") for n in range(12)]
    intake.receive(portal, mail_with(portal, request, world.member.email, "Många bilder", *parts))
    message, rows = posted(portal, request.id or 0)
    assert len(rows) == 10
    assert "(bilagan 10.png togs inte emot: högst 10 filer får följa med ett meddelande)" in message.body
    assert "(bilagan 11.png togs inte emot" in message.body


def test_quarantined_mail_attached_by_hand_brings_its_files(portal: Portal, world: World, web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    raw = mail_with(
        portal, filed, "okand@annan.example", "Se bifogat protokoll", ("protokoll.pdf", files.pdf(), "application/pdf")
    )
    outcome = intake.receive(portal, raw)
    assert outcome.status == "quarantined" and stored(portal) == []
    web.login(world.staff.email)
    response = web.post(f"/staff/quarantine/{outcome.inbound_mail_id}/attach", {"request": f"BB-{filed.id}"})
    assert response.status_code == 200
    with portal.database.reading() as s:
        [row] = s.exec(select(Attachment).where(Attachment.request_id == filed.id)).all()
    assert row.filename == "protokoll.pdf" and row.message_id is not None
    assert "protokoll.pdf" in response.text


def test_an_image_pasted_into_an_html_reply_is_kept(portal: Portal, world: World) -> None:
    request = waiting_request(portal, world)
    message = EmailMessage()
    message["From"] = world.member.email
    message["To"] = reply_tokens.address(portal.secret_key, portal.settings.reply_domain, request.id or 0, 2)
    message["Subject"] = f"SV: [BB-{request.id}] Väntar på kund"
    message.set_content("Så här ser felet ut.")
    message.add_alternative('<p>Så här ser felet ut.</p><img src="cid:skarm@kund">', subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(files.png(), maintype="image", subtype="png", cid="<skarm@kund>")
    assert intake.receive(portal, bytes(message)).status == "attached"
    stored_message, rows = posted(portal, request.id or 0)
    assert stored_message.body == "Så här ser felet ut."
    assert [(r.filename, r.content_type) for r in rows] == [("bilaga-1.png", "image/png")]


def test_a_forwarded_mail_inside_a_reply_is_noted_not_unpacked(portal: Portal, world: World) -> None:
    request = waiting_request(portal, world)
    inner = EmailMessage()
    inner["From"] = "leverantor@example.com"
    inner["Subject"] = "Offert"
    inner.set_content("Bifogad offert")
    inner.add_attachment(files.pdf(), maintype="application", subtype="pdf", filename="offert.pdf")
    raw = EmailMessage()
    raw["From"] = world.member.email
    raw["To"] = reply_tokens.address(portal.secret_key, portal.settings.reply_domain, request.id or 0, 2)
    raw["Subject"] = f"VB: [BB-{request.id}] Offert"
    raw.set_content("Se vidarebefordrat mejl.")
    raw.add_attachment(inner, filename="Offert.eml")
    assert intake.receive(portal, bytes(raw)).status == "attached"
    message, rows = posted(portal, request.id or 0)
    assert rows == []
    assert message.body == "Se vidarebefordrat mejl.\n\n(bilagan Offert.eml togs inte emot: filtypen är inte tillåten)"


def test_a_mail_with_only_refused_files_is_quarantined_once_however_often_it_comes(
    portal: Portal, world: World
) -> None:
    """Delivered three times (an MTA retrying): one quarantined row, none left half-way as 'being attached'."""
    from sqlmodel import select

    from core.models import InboundMail

    request = waiting_request(portal, world)
    raw = mail_with(
        portal, request, world.member.email, "", ("x.exe", b"MZ\x90\x00" + b"\x00" * 200, "application/x-msdownload")
    )
    outcomes = [intake.receive(portal, raw) for _ in range(3)]
    assert {o.status for o in outcomes} == {"quarantined"}
    with portal.database.reading() as session:
        rows = session.exec(select(InboundMail)).all()
    assert [(r.status, r.reason) for r in rows] == [
        ("quarantined", "no text of its own (only quoted text or a signature)")
    ]
