"""Rule matching is a pure function of conditions and facts; rule definitions are checked against the
registered triggers and actions; the shipped rules are valid and fire on exactly the seed's events."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from automations.actions import actions
from automations.rules import RuleInvalidError, check_definition
from automations.triggers import triggers
from domain.automation_builtin import BUILTIN_RULES
from domain.automation_matching import condition_matches, rule_matches
from workflows.automation_models import Condition, RuleDefinition


def cond(field: str, op: str, value: str | list[str]) -> Condition:
    return Condition.model_validate({"field": field, "op": op, "value": value})


@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        (cond("reason", "equals", "Kein Kontakt mehr gewünscht"), {"reason": "Kein Kontakt mehr gewünscht"}, True),
        (cond("reason", "equals", "kein kontakt mehr GEWÜNSCHT "), {"reason": "Kein  Kontakt mehr gewünscht"}, True),
        (cond("reason", "equals", "Kein Kontakt"), {"reason": "Kein Kontakt mehr gewünscht"}, False),
        (cond("reason", "equals", "x"), {}, False),
        (cond("reason", "equals", ""), {"reason": None}, True),
        (cond("source", "one_of", ["immoscout24", "website"]), {"source": "website"}, True),
        (cond("source", "one_of", ["immoscout24", "website"]), {"source": "immowelt"}, False),
        (cond("text", "contains", "objekt archivieren"), {"text": "Bitte Objekt archivieren, verkauft."}, True),
        (cond("text", "contains", "archivieren"), {"text": None}, False),
        (cond("tags", "contains", "vip"), {"tags": ["Neu", "VIP-Kunde"]}, True),
        (cond("created_by_automation", "equals", "true"), {"created_by_automation": True}, True),
        (cond("created_by_automation", "equals", "ja"), {"created_by_automation": True}, True),
        (cond("created_by_automation", "equals", "true"), {"created_by_automation": False}, False),
        (cond("created_by_automation", "equals", "nein"), {"created_by_automation": False}, True),
        (cond("newsletter", "equals", "false"), {"newsletter": None}, True),
        (cond("age", "equals", "50"), {"age": 50}, True),
        (cond("stage", "one_of", "Reserviert"), {"stage": "reserviert"}, True),
    ],
)
def test_condition(condition: Condition, facts: dict[str, Any], expected: bool) -> None:
    assert condition_matches(condition, facts) is expected


def test_every_condition_must_hold_and_none_means_always() -> None:
    facts = {"kind": "absage", "reason": "Kein Kontakt mehr gewünscht"}
    assert rule_matches([], facts)
    assert rule_matches([cond("kind", "equals", "absage"), cond("reason", "contains", "kein kontakt")], facts)
    assert not rule_matches([cond("kind", "equals", "absage"), cond("reason", "equals", "Preis")], facts)


def test_condition_values_fit_their_operator() -> None:
    with pytest.raises(ValidationError):
        cond("kind", "equals", ["a", "b"])
    with pytest.raises(ValidationError):
        cond("kind", "one_of", [" ", ""])
    assert cond("kind", "one_of", [" a ", "b"]).value == ["a", "b"]


def definition(**overrides: Any) -> RuleDefinition:
    data: dict[str, Any] = {
        "name": "Test",
        "trigger": "activity.created",
        "conditions": [{"field": "kind", "op": "equals", "value": "absage"}],
        "actions": [{"kind": "archive_contact", "params": {}}],
    }
    data.update(overrides)
    return RuleDefinition.model_validate(data)


def test_check_definition_lists_every_problem() -> None:
    bad = definition(
        conditions=[{"field": "stage", "op": "equals", "value": "x"}],
        actions=[
            {"kind": "teleport", "params": {}},
            {"kind": "send_email", "params": {"to": "everyone"}},
        ],
    )
    with pytest.raises(RuleInvalidError) as caught:
        check_definition(bad)
    errors = caught.value.errors
    assert len(errors) == 3
    assert "„stage“ gibt es bei" in errors[0]
    assert "unbekannte Aktion „teleport“" in errors[1]
    assert errors[2].startswith("Aktion 2 (E-Mail aus Vorlage senden): template_key: Field required; to:")

    with pytest.raises(RuleInvalidError, match="Unbekannter Auslöser"):
        check_definition(definition(trigger="moon.rises", conditions=[]))


def test_check_definition_normalises_params() -> None:
    checked = check_definition(
        definition(actions=[{"kind": "create_task", "params": {"title": "Anrufen", "due_in_days": "2"}}])
    )
    assert checked.actions[0].params == {"title": "Anrufen", "assignee": "property_contact_person", "due_in_days": 2}


def test_registries_cover_the_issue() -> None:
    assert set(triggers()) == {
        "inquiry.received",
        "contact.created",
        "activity.created",
        "note.created",
        "appointment.created",
        "deal.stage_changed",
        "birthday",
        "mail.reply_received",
    }
    assert set(actions()) == {
        "create_contact",
        "update_contact",
        "send_email",
        "archive_contact",
        "archive_property",
        "create_task",
        "set_deal_stage",
    }


BUILTIN_FACTS: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "inquiry_creates_contact": ({"source": "immoscout24"}, None),
    "first_email": ({"created_by_automation": True}, {"created_by_automation": False}),
    "birthday_mail": ({"contact_id": 1, "year": 2027}, None),
    "cancellation_archives_contact": (
        {"kind": "absage", "reason": "Kein Kontakt mehr gewünscht"},
        {"kind": "absage", "reason": "Preis zu hoch"},
    ),
    "note_archives_property": ({"text": "Eigentümer: Objekt archivieren"}, {"text": "Rückruf morgen"}),
    "viewing_confirmation": ({"kind": "viewing"}, {"kind": "general"}),
    "reserved_deal_task": ({"stage": "Reserviert"}, {"stage": "Besichtigung"}),
}


@pytest.mark.parametrize("data", BUILTIN_RULES, ids=[str(r["builtin_key"]) for r in BUILTIN_RULES])
def test_shipped_rules_are_valid_and_fire_on_the_seed_events(data: dict[str, Any]) -> None:
    checked = check_definition(RuleDefinition.model_validate(data))
    assert not checked.enabled  # shipped switched off
    fires, quiet = BUILTIN_FACTS[data["builtin_key"]]
    assert rule_matches(checked.conditions, fires)
    if quiet is not None:
        assert not rule_matches(checked.conditions, quiet)
