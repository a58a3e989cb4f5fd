"""The JSON API under /api/v1: the same actions and rules as the pages, for token or cookie clients."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from litestar import Controller, Response, get, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field

from core.conversation import chat
from core.models import Request as RequestRow
from core.platform.errors import NotFound
from core.requests import attachments
from core.requests.attachments import AttachmentView
from core.requests.lifecycle import Action
from core.requests.queries import Page, RequestSummary, get_request, list_requests, queue
from core.requests.statuses import Status
from core.web.api_answers import problems
from core.web.common import portal, user
from core.web.downloads import NO_COMPRESSION
from core.web.request_pages import parse_statuses, serve_attachment
from core.web.types import HttpRequest
from core.web.viewer import require_staff, require_user
from core.workflow import actions as workflow


class RequestTypeOut(BaseModel):
    key: str
    name: str
    description: str
    version: int
    fulfilment_mode: str
    fulfilment_modes: list[str]
    """Every mode its requests can be carried out in (a type may choose per request, e.g. an order)."""
    allows_carry_out_on: bool
    json_schema: dict[str, Any] | None = None


class FileRequestIn(BaseModel):
    type: str = Field(description="The request type's key, e.g. fault_report")
    data: dict[str, Any] = Field(description="The form data; see GET /api/v1/request-types/{key} for its schema")
    carry_out_on: date | None = Field(default=None, description="Empty or today: now; a later date schedules it")
    expected_estimate: str | None = Field(
        default=None,
        description="The fingerprint from POST /api/v1/estimates: if the cost recorded now differs, nothing is "
        "filed and the answer is 409",
    )


class ActionIn(BaseModel):
    reason: str = ""
    assignee_id: int | None = None


class RequestOut(BaseModel):
    id: int
    number: str
    type: str
    schema_version: int
    status: str
    status_label: str
    summary: str
    data: dict[str, Any]
    carry_out_on: date | None
    queued_at: datetime | None
    priority: int
    organisation_id: int
    requester_id: int
    assignee_id: int | None
    system_id: int | None
    created_at: datetime
    updated_at: datetime


class AttachmentOut(BaseModel):
    id: int
    filename: str = Field(description="Sanitised; its extension matches the content type")
    content_type: str = Field(description="Found from the file's content, never from its name")
    size: int = Field(description="Bytes")
    sha256: str
    message_id: int | None = Field(description="The chat message it came with; null for files of the request itself")
    form_field: str | None = Field(description="The form field it was filed with (e.g. photos), if any")
    created_at: datetime | None
    download_url: str = Field(description="GET it with the same credentials")


class MessageOut(BaseModel):
    id: int
    body: str = Field(description="May be empty when the message carries only files")
    internal: bool = Field(description="Staff-only notes; customers never receive them")
    via: str = Field(description="portal, email or system")
    created_at: datetime
    author_name: str
    author_side: str = Field(description='The author\'s organisation, "BBGRUPPEN" for staff, empty for the portal')
    attachments: list[AttachmentOut]


class RequestPageOut(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None


def _out(request: RequestRow | RequestSummary) -> RequestOut:
    return RequestOut(
        id=request.id or 0,
        number=request.number,
        type=request.type_key,
        schema_version=request.schema_version,
        status=request.status,
        status_label=Status(request.status).label,
        summary=request.summary,
        data=request.data if request.data is not None else {},
        carry_out_on=request.carry_out_on,
        queued_at=request.queued_at,
        priority=request.priority,
        organisation_id=request.organisation_id,
        requester_id=request.requester_id,
        assignee_id=request.assignee_id,
        system_id=request.system_id,
        created_at=request.created_at,
        updated_at=request.updated_at,
    )


def _attachment_out(item: AttachmentView) -> AttachmentOut:
    return AttachmentOut(
        id=item.id,
        filename=item.filename,
        content_type=item.content_type,
        size=item.size,
        sha256=item.sha256,
        message_id=item.message_id,
        form_field=item.form_field,
        created_at=item.created_at,
        download_url=f"/api/v1/requests/{item.request_id}/attachments/{item.id}",
    )


def _page_out(result: Page) -> RequestPageOut:
    return RequestPageOut(items=[_out(row.request) for row in result.rows], next_cursor=result.next_cursor)


API_ACTIONS = {
    "take": Action.TAKE,
    "hand-back": Action.HAND_BACK,
    "assign": Action.ASSIGN,
    "carry-out": Action.CARRY_OUT,
    "complete": Action.COMPLETE,
    "reject": Action.REJECT,
}


class ApiController(Controller):
    path = "/api/v1"
    guards = [require_user]
    tags = ["requests"]

    @get(
        "/request-types",
        sync_to_thread=False,
        responses=problems(),
    )
    def request_types(self, request: HttpRequest) -> list[RequestTypeOut]:
        current = user(request)
        return [
            RequestTypeOut(
                key=t.key,
                name=_t(t.name),
                description=_t(t.description),
                version=t.version,
                fulfilment_mode=t.fulfilment_mode.value,
                fulfilment_modes=sorted(m.value for m in t.modes()),
                allows_carry_out_on=t.allows_carry_out_on,
            )
            for t in portal(request).registry
            if not t.administrators_only or current.is_org_admin
        ]

    @get(
        "/request-types/{key:str}",
        sync_to_thread=False,
        responses=problems(404),
    )
    def request_type(self, request: HttpRequest, key: FromPath[str]) -> RequestTypeOut:
        found = portal(request).registry.get(key)
        if found is None or (found.administrators_only and not user(request).is_org_admin):
            raise NotFound("There is no request type %(key)s.", key=key)
        return RequestTypeOut(
            key=found.key,
            name=_t(found.name),
            description=_t(found.description),
            version=found.version,
            fulfilment_mode=found.fulfilment_mode.value,
            fulfilment_modes=sorted(m.value for m in found.modes()),
            allows_carry_out_on=found.allows_carry_out_on,
            json_schema=found.schema.model_json_schema(),
        )

    @post(
        "/requests",
        sync_to_thread=True,
        status_code=201,
        responses=problems(400, 404, 409, 422),
    )
    def file_request(self, request: HttpRequest, data: JSONBody[FileRequestIn]) -> RequestOut:
        current = user(request)
        if current.is_staff:
            raise NotFound("There is no request type %(key)s.", key=data.type)
        return _out(
            workflow.file(
                portal(request),
                current,
                data.type,
                data.data,
                data.carry_out_on,
                expected_estimate=data.expected_estimate,
            )
        )

    @get(
        "/requests",
        sync_to_thread=True,
        responses=problems(400),
    )
    def list_requests(
        self,
        request: HttpRequest,
        status: FromQuery[str] = "",
        type: FromQuery[str] = "",
        cursor: FromQuery[str] = "",
        limit: FromQuery[int] = 25,
    ) -> RequestPageOut:
        with portal(request).database.reading() as session:
            return _page_out(
                list_requests(
                    session,
                    user(request),
                    statuses=parse_statuses(status),
                    type_key=type or None,
                    cursor=cursor or None,
                    limit=max(1, min(limit, 100)),
                    with_data=True,
                )
            )

    @get(
        "/requests/{request_id:int}",
        sync_to_thread=True,
        responses=problems(400, 404),
    )
    def get_request(self, request: HttpRequest, request_id: FromPath[int]) -> RequestOut:
        with portal(request).database.reading() as session:
            return _out(get_request(session, user(request), request_id))

    @get(
        "/requests/{request_id:int}/messages",
        sync_to_thread=True,
        responses=problems(400, 404),
    )
    def list_messages(
        self, request: HttpRequest, request_id: FromPath[int], since: FromQuery[int] = 0
    ) -> list[MessageOut]:
        """The conversation, oldest first, with each message's files; ``since`` gives only newer messages.

        Customers never get internal notes or their files.
        """
        current = user(request)
        with portal(request).database.reading() as session:
            get_request(session, current, request_id)
            found = chat.visible_messages(session, current, request_id, since=since)
        return [
            MessageOut(
                id=m.id,
                body=m.body,
                internal=m.internal,
                via=m.via,
                created_at=m.created_at,
                author_name=m.author_name,
                author_side=m.author_side,
                attachments=[_attachment_out(a) for a in m.attachments],
            )
            for m in found
        ]

    @get(
        "/requests/{request_id:int}/attachments",
        sync_to_thread=True,
        responses=problems(400, 404),
    )
    def list_attachments(self, request: HttpRequest, request_id: FromPath[int]) -> list[AttachmentOut]:
        """Every file on the request the caller may see: on messages, filed with the form, made by fulfilment."""
        current = user(request)
        with portal(request).database.reading() as session:
            get_request(session, current, request_id)
            return [_attachment_out(a) for a in attachments.visible_attachments(session, current, request_id)]

    @get(
        "/requests/{request_id:int}/attachments/{attachment_id:int}",
        sync_to_thread=True,
        opt={NO_COMPRESSION: True},
        media_type="application/octet-stream",
        responses=problems(400, 404),
    )
    def download_attachment(
        self, request: HttpRequest, request_id: FromPath[int], attachment_id: FromPath[int]
    ) -> Response[Any]:
        """The file itself, with its content type and an RFC 5987 ``Content-Disposition`` file name."""
        return serve_attachment(request, request_id, attachment_id, inline=False)

    @post(
        "/requests/{request_id:int}/withdraw",
        sync_to_thread=True,
        status_code=200,
        responses=problems(400, 404, 409),
    )
    def withdraw(self, request: HttpRequest, request_id: FromPath[int]) -> RequestOut:
        return _out(workflow.perform(portal(request), user(request), request_id, Action.WITHDRAW))

    @get(
        "/queue",
        sync_to_thread=True,
        guards=[require_staff],
        responses=problems(400, 403, 404),
    )
    def queue(
        self,
        request: HttpRequest,
        status: FromQuery[str] = "",
        type: FromQuery[str] = "",
        cursor: FromQuery[str] = "",
        limit: FromQuery[int] = 25,
    ) -> RequestPageOut:
        with portal(request).database.reading() as session:
            return _page_out(
                queue(
                    session,
                    statuses=parse_statuses(status) or None,
                    type_key=type or None,
                    cursor=cursor or None,
                    limit=max(1, min(limit, 100)),
                    with_data=True,
                )
            )

    @post(
        "/requests/{request_id:int}/{action:str}",
        sync_to_thread=True,
        status_code=200,
        guards=[require_staff],
        responses=problems(400, 403, 404, 409, 422),
    )
    def act(
        self,
        request: HttpRequest,
        request_id: FromPath[int],
        action: FromPath[str],
        data: JSONBody[ActionIn | None] = None,
    ) -> RequestOut:
        chosen = API_ACTIONS.get(action)
        if chosen is None:
            raise NotFound("There is no such action.")
        body = data or ActionIn()
        return _out(
            workflow.perform(
                portal(request), user(request), request_id, chosen, reason=body.reason, assignee_id=body.assignee_id
            )
        )


def _t(message: str) -> str:
    from core.platform.i18n import gettext

    return gettext(message) if message else ""


__all__ = ["ApiController", "NotAuthorizedException"]
