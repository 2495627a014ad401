"""Every public endpoint, fuzzed from the app's own OpenAPI schema (plus the prospect pages it leaves out).

Hypothesis builds requests: path and query parameters from hostile text and numbers, bodies that are half
valid (a real inquiry with one field replaced), shaped like the schema with random values, or just bytes.
Whatever comes in: no 5xx, no traceback in the response, and every refused intake body in quarantine,
byte for byte. New routers are fuzzed as soon as they are in the schema; EXTRA_OPERATIONS lists the
public routes that are not (HTML forms).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from httpx import Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from settings import Settings
from tests.hostile.conftest import NASTY, HostileApp, json_dumps, stored_bytes
from web.app import create_app, routers

INTAKE = {"/api/inquiries": "api-json", "/api/inquiries/openimmo": "openimmo"}
# Routes outside the schema (include_in_schema=False): the prospect pages and the office's HTML pages,
# found on the app itself so that a new page is fuzzed as soon as it is registered.
NOT_FUZZED = {"/logout", "/login"}  # the session the fuzzer would end / the throttle it would trip
FORM_FIELDS = [
    "title", "body", "due_at", "phase_id", "reason", "position", "followup_interval", "followup_attempts",
    "duplicate_review_window", "duplicate_check", "final_notice", "stop_activity_kinds", "exceptions-0-value",
    "exceptions-0-label", "exceptions-0-field", "slot_date", "slot_start", "slot_end", "comment", "contact_id",
    "property_id", "process_id", "taker_user_id", "recipient", "response_types", "valid_days", "name", "subject",
    "body_text", "body_html", "enabled", "trigger", "first_name", "last_name", "zip_code", "city", "newsletter",
]  # fmt: skip
# ~5,300 requests in all (20 for each of ~200 operations, more for the two intake bodies), fresh ones in every
# run (no example database); IMMOFLOW_FUZZ_SCALE=10 for a long soak, 0.1 while writing a test.
SCALE = float(os.environ.get("IMMOFLOW_FUZZ_SCALE", "1"))
EXAMPLES = {"/api/inquiries": int(800 * SCALE) or 1, "/api/inquiries/openimmo": int(500 * SCALE) or 1}
DEFAULT_EXAMPLES = int(20 * SCALE) or 1
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")

_SCHEMA = create_app(Settings(env="test", secret_key=SecretStr("x"), api_token=SecretStr("x"))).openapi()


def _html_operations() -> list[tuple[str, str]]:
    return sorted(
        {
            (route.path, method.lower())
            for router in routers()
            for route in router.routes
            if isinstance(route, APIRoute) and not route.include_in_schema and route.path not in NOT_FUZZED
            for method in route.methods or ()
            if method in ("GET", "POST")
        }
    )


EXTRA_OPERATIONS = _html_operations()


def _operations() -> list[tuple[str, str]]:
    found = [
        (path, method)
        for path, methods in _SCHEMA["paths"].items()
        for method in methods
        if method in ("get", "post", "put", "patch", "delete")
    ]
    return sorted(set(found + EXTRA_OPERATIONS))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        resolved: dict[str, Any] = _SCHEMA["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


text = st.one_of(st.text(st.characters(exclude_categories=["Cs"]), max_size=60), st.sampled_from(NASTY))
scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), text)
json_value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4))
junk = st.one_of(st.binary(max_size=300), st.sampled_from([b"", b"{", b"\xff\xfe\x00", b"<a>", b"[]", b"null"]))


def _valid_inquiry() -> dict[str, Any]:
    return {
        "source": "fuzzportal",
        "external_id": "F-1",
        "mailbox": "anfragen@immoflow.local",
        "property_ref": "W-1001",
        "first_name": "Fritz",
        "last_name": "Fuzz",
        "email": "fritz@example.org",
        "received_at": "11.11.2011",
    }


@st.composite
def inquiry_json(draw: st.DrawFn) -> bytes:
    payload = _valid_inquiry()
    payload["external_id"] = draw(st.one_of(text, st.uuids().map(str)))
    for field in draw(st.lists(st.sampled_from([*sorted(payload), "message", "phone", "extra"]), max_size=3)):
        payload[field] = draw(json_value)
    if draw(st.booleans()):
        payload.pop(draw(st.sampled_from(sorted(payload))), None)
    return json_dumps(payload)


XML = (
    '<?xml version="1.0" encoding="UTF-8"?><openimmo_feedback><sender><name>{portal}</name><datum>{date}</datum>'
    "</sender><objekt><oobj_id>{ref}</oobj_id><interessent><vorname>{first}</vorname><nachname>{last}</nachname>"
    "<email>{email}</email><anfrage>{message}</anfrage></interessent></objekt></openimmo_feedback>"
)
xml_text = text.map(lambda value: value.replace("&", "&amp;").replace("<", "&lt;"))
dates = st.sampled_from(["2011-11-11", "11.11.2011", "11.11.2011 14:30", "2011-11-11T14:30:00+01:00", "11/11/2011"])


@st.composite
def openimmo_xml(draw: st.DrawFn) -> bytes:
    fields = {
        "portal": draw(st.one_of(st.just("Fuzzportal"), xml_text)),
        "date": draw(st.one_of(dates, xml_text)),
        "ref": draw(st.one_of(st.just("W-1001"), xml_text)),
        "first": draw(xml_text),
        "last": draw(xml_text),
        "email": draw(st.one_of(st.emails().map(str), xml_text)),
        "message": draw(xml_text),
    }
    document = XML.format(**fields).encode()
    cut = draw(st.integers(0, len(document)))
    return document if draw(st.booleans()) else document[:cut]


def _body(path: str, method: str) -> st.SearchStrategy[tuple[bytes, str]] | None:
    if path == "/api/inquiries" and method == "post":
        return st.tuples(st.one_of(inquiry_json(), junk, json_value.map(json_dumps)), st.just("application/json"))
    if path == "/api/inquiries/openimmo":
        return st.tuples(st.one_of(openimmo_xml(), junk), st.sampled_from(["application/xml", "text/xml"]))
    if (path, method) in EXTRA_OPERATIONS and method == "post":  # HTML forms, prospect pages included
        form = st.dictionaries(st.sampled_from(FORM_FIELDS), text)
        return st.tuples(
            form.map(lambda values: "&".join(f"{k}={quote(v)}" for k, v in values.items()).encode()),
            st.just("application/x-www-form-urlencoded"),
        )
    operation = _SCHEMA["paths"].get(path, {}).get(method, {})
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        properties = _resolve(content["application/json"].get("schema", {})).get("properties", {})
        shaped = st.fixed_dictionaries({}, optional={name: json_value for name in properties}).map(json_dumps)
        return st.tuples(st.one_of(shaped, json_value.map(json_dumps), junk), st.just("application/json"))
    return None


@st.composite
def requests(draw: st.DrawFn, path: str, method: str) -> tuple[str, dict[str, Any], tuple[bytes, str] | None]:
    url = path
    for name in re.findall(r"{(\w+)}", path):
        value = draw(st.one_of(st.integers(-(2**63), 2**63).map(str), text.filter(lambda v: v not in ("", ".", ".."))))
        url = url.replace(f"{{{name}}}", quote(value, safe=""))
    query = {}
    for parameter in _SCHEMA["paths"].get(path, {}).get(method, {}).get("parameters", []):
        if parameter.get("in") == "query" and draw(st.booleans()):
            query[parameter["name"]] = draw(st.one_of(text, st.integers(-(2**40), 2**40).map(str)))
    body = _body(path, method)
    return url, query, draw(body) if body is not None else None


def assert_sane(response: Response, what: str) -> None:
    # /healthz answers 503 by design here: the fixture's SMTP port is closed.
    designed = response.status_code == 503 and what.startswith("GET /healthz")
    assert response.status_code < 500 or designed, f"{what}: {response.status_code} {response.text[:500]}"
    assert not TRACEBACK.search(response.text), f"{what}: traceback in the response: {response.text[:500]}"


async def _fuzz_once(app: HostileApp, path: str, method: str, data: st.DataObject) -> None:
    url, query, body = data.draw(requests(path, method))
    content, content_type = body if body is not None else (None, None)
    headers = {"content-type": content_type} if content_type else {}
    response = await app.http.request(method.upper(), url, params=query, content=content, headers=headers)
    assert_sane(response, f"{method.upper()} {url}")
    if path in INTAKE and method == "post" and 400 <= response.status_code < 500:
        # Refused intake: the reason for the caller, and the body kept where an operator finds it.
        quarantine_id = response.json()["quarantine_id"]
        _, raw = await app.quarantined(quarantine_id)
        assert raw.channel == INTAKE[path]
        assert stored_bytes(raw) == content


def _fuzz_settings(examples: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        database=None,
    )


@_fuzz_settings(EXAMPLES["/api/inquiries"])
@given(data=st.data())
async def test_fuzzed_json_intake(hostile_app: HostileApp, data: st.DataObject) -> None:
    await _fuzz_once(hostile_app, "/api/inquiries", "post", data)


@_fuzz_settings(EXAMPLES["/api/inquiries/openimmo"])
@given(data=st.data())
async def test_fuzzed_openimmo_intake(hostile_app: HostileApp, data: st.DataObject) -> None:
    await _fuzz_once(hostile_app, "/api/inquiries/openimmo", "post", data)


@pytest.mark.parametrize(("path", "method"), [op for op in _operations() if op[0] not in INTAKE or op[1] != "post"])
@_fuzz_settings(DEFAULT_EXAMPLES)
@given(data=st.data())
async def test_fuzzed_requests_are_answered_sanely(
    module_hostile_app: HostileApp, path: str, method: str, data: st.DataObject
) -> None:
    await _fuzz_once(module_hostile_app, path, method, data)
