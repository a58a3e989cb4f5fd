"""The one mail service: a mail is a kind and a recipient; headers, links and the outbox are the service's.

A test plugin contributes a kind (``bbportal_mail_kinds``) and queues it with ``core.queue_mail`` — the
same way the password-reset plugin and the core's own notifications send theirs.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from core.api import MailJob, MailKind, hookimpl, link_token, queue_mail, token_digest
from core.mail import service
from core.mail.reply_tokens import recipients_in_message_ids
from core.models import Request, User
from core.platform.errors import ConfigurationError
from core.platform.outbox import OutboxMessage, OutboxStatus, drain
from core.portal import Portal, build_portal
from core.workflow import actions as workflow
from tests.support import World

TEMPLATES = Path(__file__).resolve().parents[1] / "plugins" / "mail_kinds"


def _values(job: MailJob) -> dict[str, Any] | None:
    if job.params.get("withdrawn"):
        return None  # e.g. the link was used before the mail went out
    return {"note": job.params["note"], "link": job.url(f"/notes/{job.params['note']}")}


class NotesPlugin:
    @hookimpl
    def bbportal_mail_kinds(self) -> list[MailKind]:
        return [MailKind("notes.note", TEMPLATES, _values)]


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [NotesPlugin()]


def _sent(portal: Portal) -> list[EmailMessage]:
    folder = portal.mailer.folder  # type: ignore[attr-defined]
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]  # type: ignore[misc]


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()  # type: ignore[no-any-return]


def _queue(portal: Portal, to: User | str, key: str, **params: Any) -> bool:
    with portal.database.writing() as session:
        request = session.exec(select(Request)).first() if params.pop("about_request", False) else None
        return queue_mail(session, "notes.note", to, dedupe_key=key, now=portal.clock.now(), request=request, **params)


def test_a_plugin_kind_to_a_user_is_in_their_language_with_the_service_s_headers(portal: Portal, world: World) -> None:
    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    drain(portal)
    before = len(_sent(portal))
    assert _queue(portal, world.member, "notes:1", note="n1", about_request=True)
    assert not _queue(portal, world.member, "notes:1", note="n1", about_request=True)  # the dedupe key holds
    drain(portal)
    [mail] = _sent(portal)[before:]
    assert mail["Subject"] == f"Hej {world.member.name}, n1"  # Swedish, the member's language
    assert _text(mail).startswith("n1 — sv\nhttp://testserver.local/notes/n1")
    assert world.member.email in mail["To"] and mail["From"] == portal.settings.mail_from
    assert recipients_in_message_ids(portal.secret_key, mail["Message-ID"]) == [world.member.id]
    assert mail["Reply-To"].startswith("svar+") and mail["X-BBPortal-Request"]  # about a request: answerable
    assert mail["In-Reply-To"] == service.thread_id(portal, int(mail["X-BBPortal-Request"].split("-")[-1]))
    assert mail["Auto-Submitted"] == "auto-generated"


def test_a_plugin_kind_to_an_address_is_in_swedish_then_english(portal: Portal, world: World) -> None:
    assert _queue(portal, "vakten@example.se", "notes:2", name="Vakten", note="n2")
    drain(portal)
    [mail] = _sent(portal)
    assert mail["To"] == "Vakten <vakten@example.se>"
    assert mail["Subject"] == "Hej Vakten, n2 / Hello Vakten, n2"
    assert (
        _text(mail)
        == "n2 — sv\nhttp://testserver.local/notes/n2\n\n— In English —\n\nn2 — en\nhttp://testserver.local/notes/n2\n"
    )
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and html.get_content().count("<div lang=") == 2
    assert "Reply-To" not in mail  # no portal user: no reply address to sign for
    assert recipients_in_message_ids(portal.secret_key, mail["Message-ID"]) == [0]


def test_a_mail_no_longer_wanted_ends_as_done_and_sends_nothing(portal: Portal, world: World) -> None:
    assert _queue(portal, "vakten@example.se", "notes:3", note="n3", withdrawn=True)
    drain(portal)
    assert _sent(portal) == []
    with portal.database.reading() as session:
        row = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == "notes:3")).one()
    assert row.status == OutboxStatus.DONE.value


def test_an_unknown_kind_fails_its_job_with_a_clear_error(portal: Portal, world: World) -> None:
    with portal.database.writing() as session:
        queue_mail(session, "notes.missing", world.member, dedupe_key="notes:4", now=portal.clock.now(), note="x")
    drain(portal)
    with portal.database.reading() as session:
        row = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == "notes:4")).one()
    assert row.status == OutboxStatus.PENDING.value and row.attempts == 1  # retried later, visible to staff
    assert "No plugin provides the mail kind notes.missing" in row.last_error


def test_two_kinds_with_one_key_stop_the_portal(test_settings: Any, database: Any, clock: Any) -> None:
    class Twice:
        @hookimpl
        def bbportal_mail_kinds(self) -> list[MailKind]:
            return [MailKind("invitation", TEMPLATES, _values)]  # the core's own kind

    with pytest.raises(ConfigurationError):
        build_portal(test_settings, database=database, clock=clock, extra_plugins=[Twice()])


def test_link_tokens_are_signed_per_purpose_row_and_parts() -> None:
    token = link_token("k" * 40, "password", 7, 3, "reset")
    assert token.startswith("7.") and len(token.split(".", 1)[1]) >= 43  # the whole HMAC-SHA256, URL-safe
    assert token == link_token("k" * 40, "password", 7, 3, "reset")  # rebuilt from the row, never stored
    others = {
        link_token("k" * 40, "password_reset", 7, 3, "reset"),
        link_token("k" * 40, "password", 8, 3, "reset"),
        link_token("k" * 40, "password", 7, 4, "reset"),
        link_token("l" * 40, "password", 7, 3, "reset"),
    }
    assert token not in others and len(others) == 4
    assert token_digest("k" * 40, token) != token and len(token_digest("k" * 40, token)) == 64


def test_an_observer_cannot_queue_mail_as_a_topic_of_its_own(portal: Portal, world: World) -> None:
    from core.requests.context import HookContext

    with portal.database.writing() as session:
        context = HookContext(session=session, actor=None, clock=portal.clock)
        with pytest.raises(ConfigurationError, match="queue_mail"):
            context.enqueue("send_mail", kind="invitation", user_id=world.member.id)
