"""The JSON API: token and cookie clients, the same rules as the pages, 409 for illegal transitions."""

from __future__ import annotations

from typing import Any

import pytest

from core.accounts.auth import create_api_token
from core.portal import Portal
from tests.support import World


def token_for(portal: Portal, user: Any) -> dict[str, str]:
    with portal.database.writing() as s:
        token = create_api_token(s, user, "test", secret_key=portal.secret_key, clock=portal.clock)
    return {"authorization": f"Bearer {token}"}


def test_request_types_with_json_schema(portal: Portal, world: World, web: Any) -> None:
    headers = token_for(portal, world.member)
    types = web.client.get("/api/v1/request-types", headers=headers).json()
    by_key = {t["key"]: t for t in types}
    assert {"fault_report", "log_extract", "password_reset"} <= set(by_key)  # every installed type
    assert by_key["fault_report"]["name"] == "Felanmälan"
    detail = web.client.get("/api/v1/request-types/fault_report", headers=headers).json()
    assert detail["json_schema"]["properties"]["contact_phone"]["format"] == "phone"
    assert web.client.get("/api/v1/request-types/nope", headers=headers).status_code == 404


def test_file_list_and_show_with_a_token(portal: Portal, world: World, web: Any) -> None:
    headers = token_for(portal, world.member)
    response = web.client.post(
        "/api/v1/requests", headers=headers, json={"type": "fault_report", "data": world.fault(), "carry_out_on": None}
    )
    assert response.status_code == 201, response.text
    filed = response.json()
    assert filed["status"] == "pending" and filed["status_label"] == "Väntar på hantering"
    assert filed["data"]["contact_phone"] == "+46701234567"
    listing = web.client.get("/api/v1/requests", headers=headers).json()
    assert [item["id"] for item in listing["items"]] == [filed["id"]]
    assert web.client.get(f"/api/v1/requests/{filed['id']}", headers=headers).json()["number"] == f"BB-{filed['id']}"


def test_validation_errors_are_field_level_422(portal: Portal, world: World, web: Any) -> None:
    headers = token_for(portal, world.member)
    response = web.client.post(
        "/api/v1/requests",
        headers=headers,
        json={
            "type": "fault_report",
            "data": world.fault(contact_phone="12", description="", system_id=world.other_system.id),
            "carry_out_on": "2020-01-01",
        },
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) >= {"contact_phone", "description", "carry_out_on"}
    assert web.client.get("/api/v1/requests", headers=headers).json()["items"] == []


def test_foreign_system_is_refused(portal: Portal, world: World, web: Any) -> None:
    headers = token_for(portal, world.member)
    response = web.client.post(
        "/api/v1/requests",
        headers=headers,
        json={"type": "fault_report", "data": world.fault(system_id=world.other_system.id)},
    )
    assert response.status_code == 422 and "system_id" in response.json()["errors"]


def test_illegal_transition_is_409(portal: Portal, world: World, web: Any) -> None:
    customer = token_for(portal, world.member)
    staff = token_for(portal, world.staff)
    filed = web.client.post(
        "/api/v1/requests", headers=customer, json={"type": "fault_report", "data": world.fault()}
    ).json()
    assert web.client.post(f"/api/v1/requests/{filed['id']}/complete", headers=staff).status_code == 409
    taken = web.client.post(f"/api/v1/requests/{filed['id']}/take", headers=staff)
    assert taken.status_code == 200 and taken.json()["status"] == "in_progress"
    withdraw = web.client.post(f"/api/v1/requests/{filed['id']}/withdraw", headers=customer)
    assert withdraw.status_code == 409 and withdraw.json()["detail"]
    reject = web.client.post(f"/api/v1/requests/{filed['id']}/reject", headers=staff, json={"reason": ""})
    assert reject.status_code == 409
    assert web.client.post(f"/api/v1/requests/{filed['id']}/complete", headers=staff).json()["status"] == "completed"


def test_queue_is_staff_only(portal: Portal, world: World, web: Any) -> None:
    assert web.client.get("/api/v1/queue", headers=token_for(portal, world.member)).status_code == 404
    assert web.client.get("/api/v1/queue", headers=token_for(portal, world.staff)).status_code == 200


def test_cookie_calls_need_the_csrf_token_token_calls_do_not(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    body = {"type": "fault_report", "data": world.fault()}
    assert web.client.post("/api/v1/requests", json=body).status_code == 403
    assert web.client.post("/api/v1/requests", json=body, headers={"x-csrf-token": web._csrf}).status_code == 201
    fresh = type(web)(web.client.__class__(web.client.app, base_url="http://testserver.local"))
    assert fresh.client.post("/api/v1/requests", json=body, headers=token_for(portal, world.member)).status_code == 201


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer "])
def test_unknown_token_is_401(world: World, web: Any, header: str) -> None:
    assert web.client.get("/api/v1/requests", headers={"authorization": header}).status_code == 401


def test_revoked_token_and_deactivated_owner_stop_working(portal: Portal, world: World, web: Any) -> None:
    from core.accounts import administration

    headers = token_for(portal, world.member)
    assert web.client.get("/api/v1/requests", headers=headers).status_code == 200
    with portal.database.writing() as s:
        administration.deactivate_user(s, world.member.id or 0, clock=portal.clock)
    assert web.client.get("/api/v1/requests", headers=headers).status_code == 401


def test_openapi_document_is_served(web: Any) -> None:
    response = web.client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/requests" in response.json()["paths"]
