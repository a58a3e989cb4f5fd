"""A file field in a request type's schema: a file input in the generated form, never a value from form text."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.api import file_upload
from core.requests.forms import build_fields, decode, encode, file_fields


class WithPhotos(BaseModel):
    location: str = Field(max_length=200, title="Where")
    photos: list[str] = Field(
        default_factory=list, max_length=3, title="Photos", json_schema_extra=file_upload(accept="image/*", max_files=3)
    )
    documents: list[str] = Field(default_factory=list, title="Documents", json_schema_extra=file_upload(max_files=2))


def test_file_fields_are_file_inputs_with_their_limits() -> None:
    fields = {f.name: f for f in build_fields(WithPhotos)}
    photos, documents = fields["photos"], fields["documents"]
    assert (photos.kind, photos.accept, photos.max_files, photos.required, photos.images_only) == (
        "file",
        "image/*",
        3,
        False,
        True,
    )
    assert (documents.kind, documents.accept, documents.max_files, documents.images_only) == ("file", "", 2, False)
    assert [f.name for f in file_fields(build_fields(WithPhotos))] == ["photos", "documents"]
    assert WithPhotos.model_json_schema()["properties"]["photos"]["readOnly"] is True


def test_form_text_never_fills_a_file_field() -> None:
    fields = build_fields(WithPhotos)
    assert decode(fields, {"location": "Port 2", "photos": "../../etc/passwd"}) == {"location": "Port 2"}
    assert encode(fields, {"location": "Port 2", "photos": ["a.png"]}) == {"location": "Port 2"}
