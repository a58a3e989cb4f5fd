"""Files chosen on a form are kept across a validation error: staged once, named in the form, filed later;
a forged, foreign or replayed token attaches nothing."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select

from core.models import Attachment, Request
from core.portal import Portal
from tests import files
from tests.support import World

FORM = "/requests/new/fault_report"
PNG = files.png()


def token_of(page: str) -> str:
    found = re.search(r'name="kept_files" value="([^"]+)"', page)
    assert found, "the form carries no token of kept files"
    return found.group(1)


def attachments_of(portal: Portal) -> list[Attachment]:
    with portal.database.reading() as s:
        return list(s.exec(select(Attachment).order_by(col(Attachment.id))))


def requests(portal: Portal) -> list[Request]:
    with portal.database.reading() as s:
        return list(s.exec(select(Request)))


def staged_with_an_error(world: World, web: Any) -> str:
    """A fault report with a photo and a bad phone number: the form comes back with the photo kept."""
    response = web.post(
        FORM,
        {**world.fault(), "system_id": str(world.system.id), "contact_phone": "12"},
        files=[("photos", ("plan.png", PNG, "image/png"))],
    )
    assert response.status_code == 422
    assert "Behållen: plan.png" in response.text and 'name="remove_kept"' in response.text
    return token_of(response.text)


def test_a_file_kept_across_an_error_is_filed_with_the_corrected_form(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    token = staged_with_an_error(world, web)
    assert requests(portal) == [] and attachments_of(portal) == []  # staged, not recorded
    filed = web.post(
        FORM, {**world.fault(), "system_id": str(world.system.id), "kept_files": token}, follow_redirects=False
    )
    assert filed.status_code in (302, 303), filed.text[:300]
    [request] = requests(portal)
    [photo] = attachments_of(portal)
    assert photo.request_id == request.id and photo.filename == "plan.png" and photo.origin == "form:photos:1"
    assert request.data["photos"] == ["plan.png"]
    assert photo.storage_key.startswith("uploads/") and re.match(r"uploads/\d{4}-\d{2}-\d{2}/", photo.storage_key)

    again = web.post(
        FORM, {**world.fault(), "system_id": str(world.system.id), "kept_files": token}, follow_redirects=False
    )
    assert again.status_code in (302, 303) and len(attachments_of(portal)) == 1  # a replayed token attaches nothing


def test_a_kept_file_can_be_removed(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    token = staged_with_an_error(world, web)
    ref = re.search(r'name="remove_kept" value="([^"]+)"', web.post(FORM, {"kept_files": token}).text)
    assert ref is not None
    response = web.post(
        FORM,
        {**world.fault(), "system_id": str(world.system.id), "kept_files": token, "remove_kept": ref.group(1)},
        follow_redirects=False,
    )
    assert response.status_code in (302, 303)
    assert attachments_of(portal) == [] and requests(portal)[0].data["photos"] == []


def test_a_forged_or_foreign_token_attaches_nothing(portal: Portal, world: World, web: Any, make_web: Any) -> None:
    web.login(world.member.email)
    token = staged_with_an_error(world, web)
    body, signature = token.split(".")
    forged = f"{body[:-2]}AA.{signature}"
    response = web.post(
        FORM, {**world.fault(), "system_id": str(world.system.id), "kept_files": forged}, follow_redirects=False
    )
    assert response.status_code in (302, 303) and attachments_of(portal) == []

    outsider = make_web()
    outsider.login(world.outsider.email)
    response = outsider.post(
        FORM, {**world.fault(), "system_id": str(world.other_system.id), "kept_files": token}, follow_redirects=False
    )  # another organisation's user presents the token
    assert response.status_code in (302, 303) and attachments_of(portal) == []

    colleague = make_web()
    colleague.login(world.member.email)  # the same user in another session
    response = colleague.post(
        FORM, {**world.fault(), "system_id": str(world.system.id), "kept_files": token}, follow_redirects=False
    )
    assert response.status_code in (302, 303) and attachments_of(portal) == []


def test_a_file_chosen_before_an_update_of_the_form_is_kept(portal: Portal, world: World, web: Any) -> None:
    """ "Välj system" without JavaScript sends the form with its files: they are kept, nothing is filed."""
    web.login(world.member.email)
    page = web.post(
        "/requests/new/order",
        {"system_id": str(world.system.id), "order": "other", "step": "refresh:system_id"},
    ).text
    assert "Behållen" not in page  # the order takes no files: nothing to keep
    response = web.post(
        FORM,
        {**world.fault(), "system_id": str(world.system.id), "step": "edit"},
        files=[("photos", ("plan.png", PNG, "image/png"))],
    )
    assert response.status_code == 200 and "Behållen: plan.png" in response.text
    assert requests(portal) == [] and attachments_of(portal) == []
