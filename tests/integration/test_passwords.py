"""'Glömt lösenord?' and invitations: one-time, expiring links; the same answer for unknown addresses."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from sqlmodel import select

from core.models import PasswordToken, User
from core.platform import outbox
from core.portal import Portal
from tests.support import World

LINK = re.compile(r"http://testserver\.local/password/([0-9]+\.[A-Za-z0-9_-]{43})")  # the whole HMAC, URL-safe


def mails(portal: Portal) -> list[str]:
    """Each mail as a person reads it: headers decoded, then the text part."""
    folder = Path(portal.settings.data_dir) / "mail"
    found = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        found.append(f"To: {message['To']}\nSubject: {message['Subject']}\n\n{text}")
    return found


def test_forgot_password_answers_the_same_for_known_and_unknown(portal: Portal, world: World, web: Any) -> None:
    web.get("/password/forgot")
    known = web.post("/password/forgot", {"email": world.member.email})
    unknown = web.post("/password/forgot", {"email": "nobody@nowhere.example"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(world.member.email, "X") == unknown.text.replace("nobody@nowhere.example", "X")
    outbox.drain(portal)
    [mail] = mails(portal)
    assert world.member.email in mail and "Välj ett nytt lösenord" in mail


def test_reset_link_sets_the_password_once_and_ends_sessions(portal: Portal, world: World, make_web: Any) -> None:
    laptop, browser = make_web(), make_web()
    laptop.login(world.member.email)
    browser.get("/password/forgot")
    browser.post("/password/forgot", {"email": world.member.email.upper()})
    outbox.drain(portal)
    token = LINK.search(mails(portal)[0]).group(1)  # type: ignore[union-attr]
    with portal.database.reading() as s:
        assert token not in {row.digest for row in s.exec(select(PasswordToken))}  # only a digest is stored
    page = browser.get(f"/password/{token}")
    assert page.status_code == 200
    short = browser.post(f"/password/{token}", {"password": "kort", "repeated": "kort"})
    assert short.status_code == 422
    differ = browser.post(f"/password/{token}", {"password": "ett-nytt-losenord", "repeated": "ett-annat-losen"})
    assert differ.status_code == 422
    done = browser.post(
        f"/password/{token}", {"password": "ett-nytt-losenord", "repeated": "ett-nytt-losenord"}, follow_redirects=False
    )
    assert done.status_code == 302 and done.headers["location"] == "/login?notice=password_set"
    assert laptop.get("/requests", follow_redirects=False).status_code == 302  # its session ended
    assert browser.login(world.member.email, "ett-nytt-losenord").status_code == 302
    assert browser.get(f"/password/{token}").status_code == 410  # dies on use


def test_reset_link_expires(portal: Portal, world: World, web: Any) -> None:
    web.get("/password/forgot")
    web.post("/password/forgot", {"email": world.member.email})
    outbox.drain(portal)
    token = LINK.search(mails(portal)[0]).group(1)  # type: ignore[union-attr]
    portal.clock.advance(timedelta(hours=portal.settings.password_link_hours, seconds=1))  # type: ignore[attr-defined]
    assert web.get(f"/password/{token}").status_code == 410
    assert (
        web.post(f"/password/{token}", {"password": "ett-nytt-losenord", "repeated": "ett-nytt-losenord"}).status_code
        == 410
    )


def test_a_forged_link_does_nothing(world: World, web: Any) -> None:
    assert web.get("/password/1.0000000000000000000000000000000000000000").status_code == 410


def test_invitation_for_a_new_user_without_a_password(portal: Portal, world: World, make_web: Any) -> None:
    admin, invited = make_web(), make_web()
    admin.login(world.staff_admin.email)
    admin.post(
        f"/admin/organisations/{world.org.id}/users",
        {"name": "Nya Nora", "email": "nora@testet.example", "password": "", "role": "member"},
    )
    with portal.database.reading() as s:
        nora = s.exec(select(User).where(User.email == "nora@testet.example")).one()
    assert nora.password_hash is None
    outbox.drain(portal)
    [mail] = [m for m in mails(portal) if "nora@testet.example" in m]
    assert "Subject: Välkommen till BBGRUPPEN Portal" in mail
    token = LINK.search(mail).group(1)  # type: ignore[union-attr]
    assert "Välj ert lösenord" in invited.get(f"/password/{token}").text
    invited.post(f"/password/{token}", {"password": "noras-losenord-1", "repeated": "noras-losenord-1"})
    assert invited.login("nora@testet.example", "noras-losenord-1").status_code == 302
