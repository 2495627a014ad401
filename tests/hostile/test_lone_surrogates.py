"""A lone UTF-16 surrogate ("\\ud800") in a JSON body: 422 with a reason, never a 500; intake keeps the body."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import HostileApp

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/settings/inquiry-manager", b'{"followup_interval": "\\ud800"}'),
        ("PUT", "/api/settings/inquiry-manager", b'{"exceptions": [{"value": "\\udfff"}]}'),
        ("POST", "/api/contacts", b'{"first_name": "\\ud800", "last_name": "X", "email": "x@example.org"}'),
        ("POST", "/api/leads/1/tasks", b'{"title": "\\ud800"}'),
        ("POST", "/api/slot-requests", b'{"contact_id": 1, "recipient": "\\udbff"}'),
        ("POST", "/api/automations", b'{"name": "a\\ud800b"}'),
    ],
)
async def test_lone_surrogate_is_refused_with_a_reason(
    hostile_app: HostileApp, method: str, path: str, body: bytes
) -> None:
    response = await hostile_app.http.request(method, path, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert "Surrogat" in response.text


async def test_surrogate_pair_is_an_ordinary_character(hostile_app: HostileApp) -> None:
    body = b'{"followup_attempts": 3, "stop_activity_kinds": ["absage \\ud83d\\ude00"]}'
    response = await hostile_app.http.patch("/api/settings/inquiry-manager", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json()["stop_activity_kinds"] == ["absage 😀"]


async def test_intake_stores_then_refuses_a_lone_surrogate(hostile_app: HostileApp) -> None:
    body = b'{"source": "portal", "external_id": "\\ud800", "email": "a@example.org"}'
    response = await hostile_app.http.post("/api/inquiries", content=body, headers=JSON)
    assert response.status_code == 422 and "surrogate" in response.json()["detail"]
    _, raw = await hostile_app.quarantined(response.json()["quarantine_id"])
    assert raw.body.encode() == body
