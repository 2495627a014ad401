"""German plurals agree with their number: "1 Anfrage", "2 Anfragen", never "1 Anfragen" or "Erinnerung(en)".

Counting texts go through Babel's CLDR plural rules (messaging/l10n.py, `tn` in web/texts.py);
this checks the rules, every text source for hand-made plurals, and pages rendered with a count of one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import AsyncClient

from automations.rules import ensure_builtin_rules
from db.models import AutomationRun
from db.session import SessionFactory
from messaging import default_templates, l10n
from settings import Settings
from tests import factories
from tests.http import app_client
from web.texts import MESSAGES, tn

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "starter" / "web" / "templates"
# Nouns the pages count; after a bare number placeholder they would be a plural chosen by hand.
COUNTED = "Anfragen|Anfrage|Läufe|Lauf|Mails|Mail|Erinnerungen|Erinnerung|Tage|Tag|Leads|Termine|Aufgaben|Kontakte"
BARE_COUNT = re.compile(r"\{\{\s*[\w.|]+\s*\}\}\s+(?:" + COUNTED + r")\b")
PLACEHOLDER_COUNT = re.compile(r"\{(?:n|total|count)\}\s+(?:" + COUNTED + r")\b")
HAND_PLURAL = re.compile(r"\w\((?:en|n|e|s|er)\)")


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 Anfragen"), (1, "1 Anfrage"), (2, "2 Anfragen"), (21, "21 Anfragen"), (1000, "1.000 Anfragen")],
)
def test_cldr_plural_rule_and_german_digits(count: int, expected: str) -> None:
    assert l10n.plural(count, "{n} Anfrage", "{n} Anfragen") == expected
    assert tn("dashboard.total", count) == expected


def test_durations_agree_with_their_number() -> None:
    assert [l10n.period(n, "days") for n in (1, 2)] == ["1 Tag", "2 Tage"]
    assert [l10n.period(n, "weeks") for n in (1, 3)] == ["1 Woche", "3 Wochen"]
    assert l10n.period(1, "hours") == "1 Stunde"


def test_every_counted_ui_text_has_both_forms() -> None:
    texts = MESSAGES["de"]
    for key in texts:
        if key.endswith(".one"):
            assert key.removesuffix(".one") + ".other" in texts, key
    # A catalogue text that puts a number before a counted noun must be a .one/.other pair.
    single = [f"{key}: {text}" for key, text in texts.items() if PLACEHOLDER_COUNT.search(text)]
    assert all(line.split(":")[0].endswith((".one", ".other")) for line in single), single


def _sources() -> list[tuple[str, str]]:
    pages = [(str(path.relative_to(ROOT)), path.read_text()) for path in sorted(TEMPLATES.rglob("*.html"))]
    mails = [(f"default template {t.key}", t.subject + "\n" + t.body) for t in default_templates.defaults(3)]
    catalogue = [(f"text {key}", text) for key, text in MESSAGES["de"].items()]
    return pages + mails + catalogue


def test_no_hand_made_plurals_anywhere() -> None:
    found = [f"{name}: {match.group(0)}" for name, text in _sources() for match in HAND_PLURAL.finditer(text)]
    assert found == []


def test_no_number_put_before_a_plural_noun_by_hand() -> None:
    found = [f"{name}: {match.group(0)}" for name, text in _sources() for match in BARE_COUNT.finditer(text)]
    assert found == []


def test_the_checks_above_can_fail() -> None:
    assert HAND_PLURAL.search("nach 2 Erinnerung(en)")
    assert BARE_COUNT.search("{{ item.run_count }} Läufe")
    assert PLACEHOLDER_COUNT.search("Seite 1 · {total} Anfragen")


@pytest.fixture
async def http(settings: Settings, sessions: SessionFactory) -> AsyncIterator[AsyncClient]:
    await factories.office(sessions)
    async with sessions.begin() as session:
        await ensure_builtin_rules(session)
    async with app_client(settings) as client:
        yield client


async def test_pages_with_one_item_say_it_in_the_singular(http: AsyncClient, sessions: SessionFactory) -> None:
    await factories.inquiry(sessions, source="immoscout24", property_ref="W-1001", email="eine@example.com")
    dashboard = await http.get("/dashboard")
    assert dashboard.status_code == 200
    assert "· 1 Anfrage<" in dashboard.text.replace("\n", "") or "· 1 Anfrage " in dashboard.text
    assert "1 Anfragen" not in dashboard.text

    rules = (await http.get("/api/automations")).json()
    rule_id = rules[0]["id"]
    async with sessions.begin() as session:
        from db.base import utcnow

        session.add(
            AutomationRun(
                rule_id=rule_id, event_id=1, trigger=rules[0]["trigger"], outcome="succeeded",
                started_at=utcnow(), facts={}, actions=[], steps=[],
            )
        )  # fmt: skip
    runs = await http.get(f"/automations/{rule_id}/runs")
    assert runs.status_code == 200
    assert "1 Lauf<" in runs.text and "1 Läufe" not in runs.text
