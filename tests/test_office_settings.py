"""/settings/inquiry-manager over HTTP, and the friendly duration fields it accepts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from db.models import MessageTemplate
from db.session import SessionFactory
from settings import Settings
from tests.http import app_client
from web.pages.settings_forms import format_duration, parse_duration

pytestmark = pytest.mark.one_backend

PAGE = "/settings/inquiry-manager"


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[AsyncClient]:
    async with app_client(settings) as client:
        yield client


def form(**changes: Any) -> dict[str, Any]:
    """The defaults as the page submits them; CHANGES replace fields (None drops one, like an unticked box)."""
    values: dict[str, Any] = {
        "confirmation_enabled": "1",
        "duplicate_check": "name_zip",
        "task_on_duplicate": "1",
        "send_expose": "1",
        "followup_interval": "2 Tage",
        "followup_attempts": "2",
        "final_notice": "task",
        "stop_activity_kinds": ["absage", "zusage", "warteliste"],
        "duplicate_review_window": "14 Tage",
        "exceptions-0-id": "",
        "exceptions-0-label": "",
        "exceptions-0-field": "portal",
        "exceptions-0-value": "",
        "exceptions-0-action": "no_automation",
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


async def saved(http: AsyncClient) -> dict[str, Any]:
    config: dict[str, Any] = (await http.get("/api/settings/inquiry-manager")).json()
    return config


async def test_the_page_shows_the_current_settings(http: AsyncClient) -> None:
    page = await http.get(PAGE)
    assert page.status_code == 200
    assert 'name="followup_interval" value="2 Tage"' in page.text
    assert 'name="duplicate_review_window" value="14 Tage"' in page.text
    assert 'value="name_zip" selected' in page.text
    assert 'type="radio" name="final_notice" value="task" checked' in page.text
    assert 'name="stop_activity_kinds" value="absage" checked' in page.text
    assert 'name="stop_activity_kinds" value="besichtigung">' in page.text
    assert "Ausnahmen" in page.text and "Neue Ausnahme" in page.text


async def test_every_switch_and_number_is_saved(http: AsyncClient, sessions: SessionFactory) -> None:
    changes = form(
        confirmation_enabled=None,
        duplicate_check="email",
        task_on_duplicate=None,
        send_expose=None,
        followup_interval="1 Tag 12 Stunden",
        followup_attempts="3",
        final_notice="email",
        stop_activity_kinds=["absage"],
        duplicate_review_window="PT2H",
        **{"exceptions-0-label": "Eigene Website", "exceptions-0-value": "Website"},
    )
    response = await http.post(PAGE, data=changes)
    assert response.status_code == 303 and response.headers["location"] == PAGE
    page = await http.get(PAGE)
    assert "Die Einstellungen wurden gespeichert." in page.text
    assert 'value="1 Tag 12 Stunden"' in page.text and 'value="2 Stunden"' in page.text

    config = await saved(http)
    assert config["confirmation_enabled"] is False and config["send_expose"] is False
    assert config["duplicate_check"] == "email" and config["task_on_duplicate"] is False
    assert config["followup_interval"] == "P1DT12H" and config["followup_attempts"] == 3
    assert config["final_notice"] == "email" and config["stop_activity_kinds"] == ["absage"]
    assert config["duplicate_review_window"] == "PT2H"
    [rule] = config["exceptions"]
    assert rule["label"] == "Eigene Website" and rule["value"] == "website" and rule["action"] == "no_automation"
    async with sessions() as session:  # reminder 3 got a template of its own (seed 000)
        assert await session.scalar(select(MessageTemplate.id).where(MessageTemplate.key == "inquiry.followup.3"))


async def test_exceptions_are_edited_removed_and_added_in_one_submit(http: AsyncClient) -> None:
    rules = [
        {"id": "a", "label": "Website", "field": "portal", "value": "website", "action": "no_automation"},
        {"id": "b", "label": "Firma", "field": "email_domain", "value": "firma.de", "action": "address_only"},
    ]
    await http.put("/api/settings/inquiry-manager", json={**(await saved(http)), "exceptions": rules})
    page = await http.get(PAGE)
    assert 'name="exceptions-1-value" value="firma.de"' in page.text

    fields = {
        "exceptions-0-id": "a", "exceptions-0-label": "Eigene Website", "exceptions-0-field": "portal",
        "exceptions-0-value": "website", "exceptions-0-action": "address_only",
        "exceptions-1-id": "b", "exceptions-1-label": "Firma", "exceptions-1-field": "email_domain",
        "exceptions-1-value": "firma.de", "exceptions-1-action": "address_only", "exceptions-1-remove": "1",
        "exceptions-2-id": "", "exceptions-2-label": "", "exceptions-2-field": "mailbox",
        "exceptions-2-value": "Vermietung@Office.example", "exceptions-2-action": "no_automation",
    }  # fmt: skip
    response = await http.post(PAGE, data=form(**{"exceptions-0-label": None, **fields}))
    assert response.status_code == 303

    first, added = (await saved(http))["exceptions"]
    assert first == {**rules[0], "label": "Eigene Website", "action": "address_only"}
    assert added["field"] == "mailbox" and added["value"] == "vermietung@office.example"
    assert added["label"] == "Vermietung@Office.example" and added["id"] not in ("a", "b", "")


async def test_mistakes_are_shown_and_nothing_is_saved(http: AsyncClient) -> None:
    before = await saved(http)
    response = await http.post(
        PAGE,
        data=form(
            followup_interval="bald",
            followup_attempts="11",
            final_notice="brief",
            duplicate_review_window="",
            **{"exceptions-0-label": "Ohne Wert", "exceptions-0-field": "planet"},
        ),
    )
    assert response.status_code == 422
    text = response.text
    assert "Bitte prüfen Sie die markierten Felder." in text
    assert text.count("Bitte eine Dauer angeben") == 2
    assert "Bitte eine ganze Zahl von 0 bis 10." in text
    assert text.count("Bitte eine der angebotenen Möglichkeiten wählen.") == 2  # final notice, exception field
    assert "Bitte ausfüllen." in text  # the exception's value
    assert 'name="followup_interval" value="bald"' in text  # what was typed stays in the form
    assert await saved(http) == before


async def test_a_zero_interval_is_refused(http: AsyncClient) -> None:
    response = await http.post(PAGE, data=form(followup_interval="0 Tage"))
    assert response.status_code == 422 and "Die Dauer muss größer als null sein." in response.text


async def test_settings_redirects_to_the_inquiry_manager(http: AsyncClient) -> None:
    response = await http.get("/settings")
    assert response.status_code == 303 and response.headers["location"] == PAGE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 Tage", timedelta(days=2)),
        ("1 Tag", timedelta(days=1)),
        ("1 Tag 12 Stunden", timedelta(days=1, hours=12)),
        ("2 Tage und 3 Stunden", timedelta(days=2, hours=3)),
        ("1,5 Tage", timedelta(days=1, hours=12)),
        ("36h", timedelta(hours=36)),
        ("2d 3h", timedelta(days=2, hours=3)),
        ("1 Woche", timedelta(days=7)),
        ("90 Minuten", timedelta(minutes=90)),
        ("30 Sekunden", timedelta(seconds=30)),
        ("P2D", timedelta(days=2)),
        ("pt30s", timedelta(seconds=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("172800", timedelta(days=2)),
    ],
)
def test_durations_are_read_the_way_people_write_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "bald", "2 Äpfel", "2 Tage xd 3h", "-5", "P", "Tage 2"])
def test_unreadable_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="Bitte eine Dauer angeben"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=2), "2 Tage"),
        (timedelta(days=1, hours=12), "1 Tag 12 Stunden"),
        (timedelta(hours=1, minutes=1, seconds=1), "1 Stunde 1 Minute 1 Sekunde"),
        (timedelta(seconds=30), "30 Sekunden"),
        (timedelta(0), "0 Sekunden"),
    ],
)
def test_durations_are_shown_in_words_that_read_back(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    if value:
        assert parse_duration(text) == value
