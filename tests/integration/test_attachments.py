"""Files in the conversation and on fault reports: upload, download, who may see them, limits, the API.

This module runs with a small size limit (50 kB a file), so that the limits can be reached with small files,
and runs twice: with files in the folder and in S3-compatible storage (moto's server, over HTTP).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from core.accounts.auth import create_api_token
from core.api import hookimpl
from core.conversation import chat
from core.models import Attachment, ChatMessage, Request
from core.platform.settings import Settings
from core.platform.storage import FileStorage, StorageUnavailable
from core.portal import Portal
from core.requests.attachments import Upload, stage_all
from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from tests import files
from tests.s3 import use_s3
from tests.support import World

LIMIT_MB = 0.05
LIMIT = int(LIMIT_MB * 1024 * 1024)
PNG = files.png()
PDF = files.pdf("Protokoll")


@pytest.fixture(params=["folder", "s3"])
def test_settings(request: pytest.FixtureRequest, test_settings: Settings) -> Settings:
    test_settings.attachment_max_mb = LIMIT_MB
    if request.param == "s3":
        use_s3(test_settings, request.getfixturevalue("s3_endpoint"))
    return test_settings


def stored(portal: Portal) -> list[str]:
    """Every file in the portal's storage, whichever it is."""
    return sorted(found.key for found in portal.storage.files(""))


def rows(portal: Portal, request_id: int) -> list[Attachment]:
    with portal.database.reading() as s:
        return list(s.exec(select(Attachment).where(Attachment.request_id == request_id).order_by(col(Attachment.id))))


def messages(portal: Portal, request_id: int) -> list[ChatMessage]:
    with portal.database.reading() as s:
        return list(s.exec(select(ChatMessage).where(ChatMessage.request_id == request_id)))


def upload(*named: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Form files as a browser sends them (the browser's content type is a guess; the portal ignores it)."""
    return [("files", (name, content, "application/octet-stream")) for name, content in named]


def token_for(portal: Portal, user: Any) -> dict[str, str]:
    with portal.database.writing() as s:
        token = create_api_token(s, user, "test", secret_key=portal.secret_key, clock=portal.clock)
    return {"authorization": f"Bearer {token}"}


def file_fault(portal: Portal, world: World, user: Any = None) -> Request:
    return workflow.file(portal, user or world.member, "fault_report", world.fault(), None)


def test_customer_attaches_files_and_staff_download_them(portal: Portal, world: World, make_web: Any) -> None:
    filed = file_fault(portal, world)
    customer, staff = make_web(), make_web()
    customer.login(world.member.email)
    response = customer.post(
        f"/requests/{filed.id}/messages",
        {"body": "Här är bilder på låset."},
        files=upload(("låset.png", PNG), ("Åtgärdsprotokoll.pdf", PDF)),
        follow_redirects=False,
    )
    assert response.status_code in (302, 303), response.text
    [message] = messages(portal, filed.id or 0)
    png, pdf = rows(portal, filed.id or 0)
    assert (png.filename, png.content_type, png.size, png.message_id) == (
        "låset.png",
        "image/png",
        len(PNG),
        message.id,
    )
    assert (pdf.filename, pdf.content_type, pdf.internal) == ("Åtgärdsprotokoll.pdf", "application/pdf", False)
    assert png.uploaded_by_id == world.member.id and len(png.sha256) == 64
    assert len(stored(portal)) == 2

    staff.login(world.staff.email)
    page = staff.get(f"/staff/requests/{filed.id}").text
    assert "Åtgärdsprotokoll.pdf" in page and f'src="/staff/requests/{filed.id}/attachments/{png.id}?inline=1"' in page
    download = staff.get(f"/staff/requests/{filed.id}/attachments/{pdf.id}")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Atgardsprotokoll.pdf\"; filename*=UTF-8''%C3%85tg%C3%A4rdsprotokoll.pdf"
    )
    assert "sandbox" in download.headers["content-security-policy"]
    # The customer reads the same files through their own route.
    again = customer.get(f"/requests/{filed.id}/attachments/{png.id}")
    assert again.status_code == 200 and again.content == PNG


def test_thumbnails_inline_only_for_images_and_a_known_copy_costs_a_304(portal: Portal, world: World, web: Any) -> None:
    filed = file_fault(portal, world)
    chat.post(portal, world.member, filed.id or 0, "Bilder", files=staged(portal, ("a.png", PNG), ("b.pdf", PDF)))
    png, pdf = rows(portal, filed.id or 0)
    web.login(world.member.email)
    thumbnail = web.get(f"/requests/{filed.id}/attachments/{png.id}?inline=1")
    assert thumbnail.headers["content-disposition"].startswith("inline;")
    forced = web.get(f"/requests/{filed.id}/attachments/{pdf.id}?inline=1")
    assert forced.headers["content-disposition"].startswith("attachment;")  # a PDF is never shown in our origin
    cached = web.get(
        f"/requests/{filed.id}/attachments/{png.id}?inline=1", headers={"if-none-match": thumbnail.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""


def staged(portal: Portal, *named: tuple[str, bytes]) -> list[Any]:
    import io

    return stage_all(
        portal.storage,
        [Upload(name, io.BytesIO(content)) for name, content in named],
        field="files",
        max_bytes=portal.settings.attachment_max_bytes,
    )


def test_a_message_may_be_only_files_but_not_empty(portal: Portal, world: World, web: Any) -> None:
    filed = file_fault(portal, world)
    web.login(world.member.email)
    only_files = web.post(f"/requests/{filed.id}/messages", {"body": ""}, files=upload(("skylt.png", PNG)))
    assert only_files.status_code == 200 and "skylt.png" in only_files.text
    [message] = messages(portal, filed.id or 0)
    assert message.body == ""
    empty = web.post(f"/requests/{filed.id}/messages", {"body": "  "})
    assert empty.status_code == 422 and "Skriv ett meddelande." in empty.text


def test_a_refused_file_keeps_the_text_names_the_file_and_stores_nothing(
    portal: Portal, world: World, web: Any
) -> None:
    filed = file_fault(portal, world)
    web.login(world.member.email)
    response = web.post(
        f"/requests/{filed.id}/messages",
        {"body": "Se bifogad faktura"},
        files=upload(("ok.png", PNG), ("faktura.pdf", files.exe()), ("sida.txt", files.html())),
    )
    assert response.status_code == 422
    page = response.text
    assert "faktura.pdf: filtypen är inte tillåten." in page and "sida.txt: filtypen är inte tillåten." in page
    assert "Välj filerna igen" in page
    assert 'id="f-files-error"' in page and 'aria-invalid="true"' in page
    assert re.search(r"<textarea[^>]*>Se bifogad faktura</textarea>", page)
    assert messages(portal, filed.id or 0) == [] and rows(portal, filed.id or 0) == [] and stored(portal) == []


def test_size_limits_a_file_over_the_limit_and_a_body_over_the_routes_limit(
    portal: Portal, world: World, web: Any
) -> None:
    filed = file_fault(portal, world)
    web.login(world.member.email)
    big = files.png() + b"\x00" * (LIMIT + 1)  # a PNG signature followed by more than the limit
    response = web.post(f"/requests/{filed.id}/messages", {"body": "Stor bild"}, files=upload(("stor.png", big)))
    assert response.status_code == 422
    assert "stor.png: filen är större än 0,05 MB." in response.text and "Stor bild</textarea>" in response.text
    too_many = web.post(
        f"/requests/{filed.id}/messages", {"body": "Många"}, files=upload(*[(f"{n}.png", PNG) for n in range(11)])
    )
    assert too_many.status_code == 422 and "Bifoga högst 10 filer åt gången" in too_many.text
    # A body larger than ten files at the limit plus the text never reaches the handler: a page explains why.
    huge = b"\x00" * (10 * LIMIT + 1024 * 1024 + 1)
    refused = web.post(f"/requests/{filed.id}/messages", {"body": "Jättestor"}, files=upload(("stor.bin", huge)))
    assert refused.status_code == 413
    assert "högst 0,05 MB" in refused.text and "högst 10 filer" in refused.text and "Inget sparades" in refused.text
    assert messages(portal, filed.id or 0) == [] and stored(portal) == []


def test_other_routes_keep_litestars_body_limit(portal: Portal, world: World, web: Any) -> None:
    filed = file_fault(portal, world)
    web.login(world.member.email)
    response = web.post(f"/requests/{filed.id}/follow", {"following": "x" * (11 * 1024 * 1024)})
    assert response.status_code == 413 and "Det ni skickade är för stort. Inget sparades." in response.text


def test_files_on_a_closed_request_are_not_kept(portal: Portal, world: World, web: Any) -> None:
    filed = file_fault(portal, world)
    workflow.perform(portal, world.member, filed.id or 0, Action.WITHDRAW)
    web.login(world.member.email)
    response = web.post(f"/requests/{filed.id}/messages", {"body": "Hallå?"}, files=upload(("a.png", PNG)))
    assert response.status_code == 409
    assert rows(portal, filed.id or 0) == [] and stored(portal) == []


def test_internal_notes_files_are_for_staff_only_everywhere(portal: Portal, world: World, make_web: Any) -> None:
    filed = file_fault(portal, world)
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    staff, customer = make_web(), make_web()
    staff.login(world.staff.email)
    staff.post(
        f"/staff/requests/{filed.id}/messages",
        {"kind": "internal", "body": "Loggutdrag"},
        files=upload(("logg.txt", b"10:00 door 3 forced\n")),
    )
    staff.post(
        f"/staff/requests/{filed.id}/messages",
        {"kind": "ask", "body": "Stämmer ritningen?"},
        files=upload(("ritning.pdf", PDF)),
    )
    note_file, question_file = rows(portal, filed.id or 0)
    assert note_file.internal and not question_file.internal
    assert staff.get(f"/staff/requests/{filed.id}/attachments/{note_file.id}").status_code == 200

    customer.login(world.member.email)
    page = customer.get(f"/requests/{filed.id}").text
    assert "ritning.pdf" in page and "logg.txt" not in page
    assert "logg.txt" not in customer.get(f"/requests/{filed.id}/messages?since=0").text
    assert customer.get(f"/requests/{filed.id}/attachments/{note_file.id}").status_code == 404
    assert customer.get(f"/requests/{filed.id}/attachments/{question_file.id}").status_code == 200
    headers = token_for(portal, world.member)
    api_files = customer.client.get(f"/api/v1/requests/{filed.id}/attachments", headers=headers).json()
    assert [f["filename"] for f in api_files] == ["ritning.pdf"]
    listed = customer.client.get(f"/api/v1/requests/{filed.id}/messages", headers=headers).json()
    assert [[a["filename"] for a in m["attachments"]] for m in listed] == [["ritning.pdf"]]
    hidden = customer.client.get(f"/api/v1/requests/{filed.id}/attachments/{note_file.id}", headers=headers)
    assert hidden.status_code == 404


def test_another_organisations_files_and_mismatched_ids_are_404(portal: Portal, world: World, web: Any) -> None:
    own = file_fault(portal, world)
    foreign = workflow.file(portal, world.outsider, "fault_report", world.fault(system_id=world.other_system.id), None)
    chat.post(portal, world.outsider, foreign.id or 0, "Deras", files=staged(portal, ("deras.pdf", PDF)))
    chat.post(portal, world.member, own.id or 0, "Vår", files=staged(portal, ("vår.pdf", PDF)))
    [theirs] = rows(portal, foreign.id or 0)
    [ours] = rows(portal, own.id or 0)
    web.login(world.member.email)
    assert web.get(f"/requests/{foreign.id}/attachments/{theirs.id}").status_code == 404
    assert web.get(f"/requests/{own.id}/attachments/{theirs.id}").status_code == 404  # a foreign file via our request
    assert web.get(f"/requests/{own.id}/attachments/{ours.id}").status_code == 200
    assert web.get(f"/requests/{own.id}/attachments/99999999999").status_code == 404
    assert web.get(f"/staff/requests/{own.id}/attachments/{ours.id}").status_code == 404  # staff routes: staff only


def test_new_messages_fetched_by_polling_show_their_files(portal: Portal, world: World, web: Any) -> None:
    filed = file_fault(portal, world)
    first = chat.post(portal, world.staff, filed.id or 0, "Vi tittar på det.")
    chat.post(portal, world.staff, filed.id or 0, "Här är offerten.", files=staged(portal, ("offert.pdf", PDF)))
    [offer] = rows(portal, filed.id or 0)
    web.login(world.member.email)
    fragment = web.get(f"/requests/{filed.id}/messages?since={first.id}").text
    assert "offert.pdf" in fragment and f'href="/requests/{filed.id}/attachments/{offer.id}"' in fragment


def test_the_api_lists_messages_with_their_files_and_downloads_them(portal: Portal, world: World, web: Any) -> None:
    filed = file_fault(portal, world)
    message = chat.post(portal, world.member, filed.id or 0, "Bild", files=staged(portal, ("dörr.png", PNG)))
    headers = token_for(portal, world.member)
    [listed] = web.client.get(f"/api/v1/requests/{filed.id}/messages", headers=headers).json()
    [item] = listed["attachments"]
    assert listed["id"] == message.id and listed["body"] == "Bild"
    assert item["filename"] == "dörr.png" and item["content_type"] == "image/png" and item["size"] == len(PNG)
    assert item["message_id"] == message.id and item["form_field"] is None
    assert item["download_url"] == f"/api/v1/requests/{filed.id}/attachments/{item['id']}"
    download = web.client.get(item["download_url"], headers=headers)
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-disposition"].startswith("attachment;")
    staff_headers = token_for(portal, world.staff)
    assert web.client.get(item["download_url"], headers=staff_headers).status_code == 200


def test_fault_report_with_photos(portal: Portal, world: World, make_web: Any) -> None:
    customer, staff = make_web(), make_web()
    customer.login(world.member.email)
    form = customer.get("/requests/new/fault_report").text
    assert 'enctype="multipart/form-data"' in form and 'type="file" id="f-photos" name="photos" multiple' in form
    assert 'accept="image/*"' in form
    response = customer.post(
        "/requests/new/fault_report",
        {**world.fault(), "system_id": str(world.system.id)},
        files=[("photos", ("dörren.png", PNG, "image/png")), ("photos", ("IMG_0001", files.jpeg(), "image/jpeg"))],
        follow_redirects=False,
    )
    assert response.status_code in (302, 303), response.text
    request_id = int(response.headers["location"].split("/")[2].split("?")[0])
    with portal.database.reading() as s:
        filed = s.get(Request, request_id)
        assert filed is not None and filed.data["photos"] == ["dörren.png", "IMG_0001.jpg"]
    photos = rows(portal, request_id)
    assert [(p.filename, p.origin, p.message_id) for p in photos] == [
        ("dörren.png", "form:photos:1", None),
        ("IMG_0001.jpg", "form:photos:2", None),
    ]
    page = customer.get(f"/requests/{request_id}").text
    assert "Foton" in page and f'src="/requests/{request_id}/attachments/{photos[0].id}?inline=1"' in page
    staff.login(world.staff.email)
    assert (
        f'src="/staff/requests/{request_id}/attachments/{photos[0].id}?inline=1"'
        in staff.get(f"/staff/requests/{request_id}").text
    )


def test_fault_report_photo_errors_are_field_level_and_the_rest_is_kept(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    values = {**world.fault(), "system_id": str(world.system.id), "location": "Port 2", "contact_name": ""}
    response = web.post(
        "/requests/new/fault_report",
        values,
        files=[("photos", ("ritning.pdf", PDF, "application/pdf")), ("photos", ("ok.png", PNG, "image/png"))],
    )
    assert response.status_code == 422
    page = response.text
    assert 'href="#f-photos"' in page and 'href="#f-contact-name"' in page  # every problem at once
    assert "ritning.pdf: här kan bara bilder (JPEG, PNG, GIF, WebP, HEIC) bifogas." in page
    assert "Behållen: ok.png" not in page and 'value="Port 2"' in page  # a refused field keeps none of its files
    six = web.post(
        "/requests/new/fault_report",
        {**world.fault(), "system_id": str(world.system.id)},
        files=[("photos", (f"{n}.png", PNG, "image/png")) for n in range(6)],
    )
    assert six.status_code == 422 and "Bifoga högst 5 filer åt gången" in six.text
    # The files were fine but another field was not: they are kept (staged, not yet on any request).
    other = web.post(
        "/requests/new/fault_report",
        {**world.fault(), "system_id": str(world.system.id), "contact_phone": "12"},
        files=[("photos", ("ok.png", PNG, "image/png"))],
    )
    assert other.status_code == 422 and "Behållen: ok.png" in other.text
    with portal.database.reading() as s:
        assert s.exec(select(Request)).first() is None and s.exec(select(Attachment)).first() is None
    assert len(stored(portal)) == 1


def test_fault_reports_without_photos_and_older_ones_still_display(portal: Portal, world: World, web: Any) -> None:
    filed = file_fault(portal, world)
    with portal.database.writing() as s:
        old = s.get(Request, filed.id)
        assert old is not None and old.data["photos"] == []
        old.data = {k: v for k, v in old.data.items() if k != "photos"}  # as stored before the field existed
        s.add(old)
    web.login(world.member.email)
    page = web.get(f"/requests/{filed.id}").text
    assert "Huvudentrén, Storgatan 1" in page and "Foton</dt>" not in page


def test_the_json_api_cannot_send_photo_names_as_data(portal: Portal, world: World, web: Any) -> None:
    headers = token_for(portal, world.member)
    schema = web.client.get("/api/v1/request-types/fault_report", headers=headers).json()["json_schema"]
    assert schema["properties"]["photos"]["readOnly"] is True
    response = web.client.post(
        "/api/v1/requests",
        headers=headers,
        json={"type": "fault_report", "data": {**world.fault(), "photos": ["x.png"]}, "carry_out_on": None},
    )
    assert response.status_code == 422 and "photos" in response.json()["errors"]


def test_a_multipart_post_without_the_csrf_token_is_refused(portal: Portal, world: World, web: Any) -> None:
    filed = file_fault(portal, world)
    web.login(world.member.email)
    response = web.client.post(
        f"/requests/{filed.id}/messages", data={"body": "Utan nyckel"}, files=upload(("a.png", PNG))
    )
    assert response.status_code == 403
    assert messages(portal, filed.id or 0) == [] and stored(portal) == []


def test_mails_name_the_files_and_carry_none(portal: Portal, world: World) -> None:
    import email
    from email import policy

    from core.platform import outbox

    filed = file_fault(portal, world)
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    chat.post(
        portal,
        world.staff,
        filed.id or 0,
        "Stämmer ritningen?",
        ask_customer=True,
        files=staged(portal, ("ritning.pdf", PDF)),
    )
    outbox.drain(portal)
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in (Path(portal.settings.data_dir) / "mail").glob("*.eml")
    ]
    texts = [m.get_body(("plain",)).get_content() for m in mails]
    with_message = [t for t in texts if "Stämmer ritningen?" in t]  # status mails show the newest message
    assert with_message and all("Bifogade filer (öppna ärendet för att se dem): ritning.pdf" in t for t in with_message)
    assert all(list(m.iter_attachments()) == [] for m in mails)


class _FailingObserver:
    """A plugin whose message hook fails: the message's transaction is rolled back."""

    @hookimpl
    def bbportal_message_posted(self, request: Any, message: Any, context: Any) -> None:
        raise RuntimeError("the observer broke")


def test_a_message_whose_transaction_fails_keeps_no_file(portal: Portal, world: World) -> None:
    filed = file_fault(portal, world)
    observer = _FailingObserver()
    portal.plugins.register(observer)
    try:
        with pytest.raises(RuntimeError):
            chat.post(portal, world.member, filed.id or 0, "Bild", files=staged(portal, ("a.png", PNG)))
    finally:
        portal.plugins.unregister(observer)
    assert messages(portal, filed.id or 0) == [] and rows(portal, filed.id or 0) == [] and stored(portal) == []


class _FullAfterOne:
    """The portal's storage (folder or S3), running out of space on the second file."""

    def __init__(self, inner: FileStorage) -> None:
        self.inner = inner
        self.saved = 0

    def save(self, key: str, chunks: Any, *, max_bytes: int | None = None) -> int:
        self.saved += 1
        if self.saved > 1:
            raise StorageUnavailable("No space left on device")
        return self.inner.save(key, chunks, max_bytes=max_bytes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_storage_failure_keeps_none_of_the_files(portal: Portal) -> None:
    import io

    storage = _FullAfterOne(portal.storage)
    uploads = [Upload("a.png", io.BytesIO(PNG)), Upload("b.png", io.BytesIO(PNG))]
    with pytest.raises(StorageUnavailable):
        stage_all(storage, uploads, field="files", max_bytes=LIMIT)  # type: ignore[arg-type]
    assert stored(portal) == []


def test_a_huge_text_post_to_an_upload_route_is_refused_and_never_echoed(world: Any, web: Any) -> None:
    """The upload routes take large multipart bodies for files; a url-encoded post keeps the ordinary limit."""
    web.login(world.member.email)
    filed = web.post("/requests/new/fault_report", world.fault(), follow_redirects=False)
    request_id = int(filed.headers["location"].split("/")[-1].split("?")[0])
    response = web.post(f"/requests/{request_id}/messages", {"body": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert len(response.text) < 100_000


def test_downloads_carry_the_stored_type_once_on_every_route(portal: Portal, world: World, make_web: Any) -> None:
    filed = file_fault(portal, world)
    chat.post(
        portal,
        world.member,
        filed.id or 0,
        "Filer",
        files=staged(
            portal, ("anteckning.txt", "Dörren är trasig.\n".encode()), ("latin.txt", "Dörr\n".encode("cp1252"))
        ),
    )
    text, latin = rows(portal, filed.id or 0)
    customer, staff = make_web(), make_web()
    customer.login(world.member.email)
    staff.login(world.staff.email)
    headers = token_for(portal, world.member)
    for row, expected in ((text, "text/plain; charset=utf-8"), (latin, "text/plain; charset=iso-8859-1")):
        for response in (
            customer.get(f"/requests/{filed.id}/attachments/{row.id}"),
            staff.get(f"/staff/requests/{filed.id}/attachments/{row.id}"),
            customer.client.get(f"/api/v1/requests/{filed.id}/attachments/{row.id}", headers=headers),
        ):
            assert response.status_code == 200
            assert response.headers.get_list("content-type") == [expected], response.url


@pytest.mark.parametrize(
    "name",
    [
        "photo\u202egnp.txt",  # RIGHT-TO-LEFT OVERRIDE: shows as "phototxt.png"
        "photo\u2067gnp.txt\u2069",  # RIGHT-TO-LEFT ISOLATE … POP DIRECTIONAL ISOLATE
        "photo\u200fgnp.\u202btxt\u202c",  # RIGHT-TO-LEFT MARK, EMBEDDING … POP
        "photo\u200bgnp.txt\ufeff",  # invisible: ZERO WIDTH SPACE, BYTE ORDER MARK
    ],
)
def test_bidirectional_and_invisible_controls_are_stripped_from_file_names(
    portal: Portal, world: World, web: Any, name: str
) -> None:
    filed = file_fault(portal, world)
    web.login(world.member.email)
    web.post(f"/requests/{filed.id}/messages", {"body": "Bild"}, files=upload((name, b"hej\n")))
    [row] = rows(portal, filed.id or 0)
    assert row.filename == "photognp.txt"


class _FullDisk:
    """The portal's storage (folder or S3) behind a disk that is full: every stream fails as the operating
    system says so, after its bytes were read (the storage had begun writing)."""

    def __init__(self, inner: FileStorage) -> None:
        self.inner = inner

    def save(self, key: str, chunks: Any, *, max_bytes: int | None = None) -> int:
        def failing() -> Any:
            yield from chunks
            raise OSError(28, "No space left on device")

        return self.inner.save(key, failing(), max_bytes=max_bytes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_storage_write_failure_is_a_503_that_says_try_again(portal: Portal, world: World, web: Any) -> None:
    filed = file_fault(portal, world)
    portal.storage = _FullDisk(portal.storage)  # type: ignore[assignment]
    web.login(world.member.email)
    page = web.post(f"/requests/{filed.id}/messages", {"body": "Bild"}, files=upload(("a.png", PNG)))
    assert page.status_code == 503 and "försök igen om några minuter" in page.text
    assert page.headers["retry-after"] == "60"
    assert messages(portal, filed.id or 0) == [] and stored(portal) == []
