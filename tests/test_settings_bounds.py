"""Hostile but ordinary settings input: bounded, trimmed, read back as stored; PUT is whole, PATCH partial."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from db.app_settings import INQUIRY_MANAGER_KEY as CONFIG_KEY
from db.base import utcnow
from db.models import AppSetting
from db.session import SessionFactory
from settings import Settings
from tests import factories
from tests.hostile.security_support import STRONG_TOKEN
from tests.hostile.security_support import production as production_settings
from tests.http import app_client
from tests.inquiry_harness import running_harness
from workflows.inquiry_models import InquiryManagerConfig, InquiryState

API = "/api/settings/inquiry-manager"
RULE = {"id": "r1", "label": "Website", "field": "portal", "value": "website", "action": "no_automation"}


@pytest.fixture
async def http(settings: Settings, sessions: SessionFactory) -> AsyncIterator[AsyncClient]:
    async with app_client(settings) as client:
        yield client


def document(**changes: Any) -> dict[str, Any]:
    """A whole settings document (the defaults) with CHANGES."""
    return {**InquiryManagerConfig().model_dump(mode="json"), **changes}


def fields_named(response: Any) -> set[str]:
    return {str(error["loc"][-1]) for error in response.json()["detail"]}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"exceptions": [{**RULE, "value": " "}]}, "value"),
        ({"exceptions": [{**RULE, "label": "   "}]}, "label"),
        ({"followup_interval": "P999999999D"}, "followup_interval"),
        ({"followup_interval": "PT0.001S"}, "followup_interval"),
        ({"duplicate_review_window": "P99999D"}, "duplicate_review_window"),
        ({"followup_attempts": 11}, "followup_attempts"),
        ({"stop_activity_kinds": ["x" * 100] * 30_000}, "stop_activity_kinds"),
        ({"stop_activity_kinds": [" "]}, "0"),
        ({"exceptions": [RULE] * 101}, "exceptions"),
    ],
    ids=[
        "blank-value",
        "blank-label",
        "huge-interval",
        "millisecond-interval",
        "huge-review-window",
        "too-many-attempts",
        "3mb-kinds",
        "blank-kind",
        "too-many-exceptions",
    ],
)
async def test_out_of_bounds_is_refused_and_nothing_changes(
    http: AsyncClient, changes: dict[str, Any], field: str
) -> None:
    response = await http.put(API, json=document(**changes))
    assert response.status_code == 422, response.text
    assert field in fields_named(response)
    after = await http.get(API)
    assert after.status_code == 200 and after.json() == document()


async def test_values_are_trimmed_before_they_are_measured(http: AsyncClient) -> None:
    response = await http.put(API, json=document(exceptions=[{**RULE, "value": "  WebSite "}]))
    assert response.status_code == 200, response.text
    [rule] = (await http.get(API)).json()["exceptions"]
    assert rule["value"] == "website"


async def test_put_requires_the_whole_document(http: AsyncClient) -> None:
    await http.put(API, json=document(duplicate_check="email", exceptions=[RULE]))
    # README's old example: a partial PUT used to reset the duplicate check and drop the exceptions.
    response = await http.put(API, json={"followup_interval": "PT20S", "followup_attempts": 2})
    assert response.status_code == 422
    assert {"duplicate_check", "exceptions", "final_notice"} <= fields_named(response)
    assert "followup_interval" not in fields_named(response)
    kept = (await http.get(API)).json()
    assert kept["duplicate_check"] == "email" and len(kept["exceptions"]) == 1


async def test_patch_changes_only_what_it_names(http: AsyncClient) -> None:
    await http.put(API, json=document(duplicate_check="email", exceptions=[RULE]))
    response = await http.patch(API, json={"followup_interval": "PT20S", "final_notice": "email"})
    assert response.status_code == 200, response.text
    stored = (await http.get(API)).json()
    assert stored["followup_interval"] == "PT20S" and stored["final_notice"] == "email"
    assert stored["duplicate_check"] == "email" and stored["exceptions"][0]["id"] == "r1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"followup_interval": "P999999999D"}, "followup_interval"),
        ({"followup_intervall": "P1D"}, "followup_intervall"),
    ],
    ids=["out-of-bounds", "unknown-field"],
)
async def test_patch_refuses_with_the_field(http: AsyncClient, body: dict[str, Any], field: str) -> None:
    response = await http.patch(API, json=body)
    assert response.status_code == 422
    assert field in fields_named(response)
    assert (await http.get(API)).json() == document()


async def test_production_office_gets_an_hour_at_least(settings: Settings, sessions: SessionFactory) -> None:
    # a setup production accepts (issue 17), with the API token the client sends
    production = production_settings(settings, api_token=SecretStr(STRONG_TOKEN))
    async with app_client(production) as http:
        response = await http.patch(API, json={"followup_interval": "PT30S"})
        assert response.status_code == 422 and "followup_interval" in fields_named(response)
        assert (await http.patch(API, json={"followup_interval": "PT1H"})).status_code == 200


async def test_page_refuses_out_of_bounds_with_german_field_error(http: AsyncClient) -> None:
    from tests.test_office_settings import form

    response = await http.post("/settings/inquiry-manager", data=form(followup_interval="999999999 Tage"))
    assert response.status_code == 422
    assert "Abstand" in response.text or "höchstens" in response.text
    assert (await http.get(API)).json()["followup_interval"] == "P2D"


async def _store_raw(sessions: SessionFactory, document: dict[str, Any]) -> None:
    """What an older version could store: a rule whose value was blank after trimming."""
    async with sessions.begin() as session:
        session.add(AppSetting(key=CONFIG_KEY, value=document, updated_at=utcnow()))


async def test_invalid_stored_settings_answer_409_and_the_page_offers_repair(
    http: AsyncClient, sessions: SessionFactory
) -> None:
    await _store_raw(sessions, document(exceptions=[{**RULE, "value": ""}]))
    response = await http.get(API)
    assert response.status_code == 409 and "exceptions" in response.json()["detail"]
    page = await http.get("/settings/inquiry-manager")
    assert page.status_code == 200 and "ungültig" in page.text
    assert (await http.put(API, json=document())).status_code == 200
    assert (await http.get(API)).status_code == 200


async def test_invalid_stored_settings_fail_the_inquiry_visibly(
    sessions: SessionFactory, settings: Settings, workflow_env: WorkflowEnvironment, task_queue: str
) -> None:
    await factories.office(sessions)
    await _store_raw(sessions, document(exceptions=[{**RULE, "value": ""}]))
    inquiry = await factories.inquiry(sessions, email="jemand@example.com")
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as harness:
        result = await (await harness.start(inquiry)).result()
        assert result.state == InquiryState.FAILED
        row = await harness.row(inquiry.id)
        assert row.status == "failed" and "exceptions" in (row.reason or "")
