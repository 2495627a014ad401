"""Does a rule fire on an event? A pure function of the rule's conditions and the event's facts.

Office users type condition values by hand ("Kein Kontakt mehr gewünscht", "ja", "Reserviert"), so text
compares case-insensitively with surrounding whitespace ignored, and booleans accept German and English
spellings. A fact the event does not have compares as empty text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from workflows.automation_models import Condition, ConditionOp

_TRUE = frozenset({"true", "ja", "yes", "1", "wahr"})
_FALSE = frozenset({"false", "nein", "no", "0", "falsch", ""})


def normalise(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return " ".join(str(value).split()).casefold()


def _equal(fact: Any, wanted: str) -> bool:
    if isinstance(fact, bool) or fact is None:
        # "ja"/"nein" against a yes/no fact; None is "no" for a yes/no field and "" for text.
        token = normalise(wanted)
        if token in _TRUE:
            return fact is True
        if token in _FALSE:
            return not fact
        return False
    return normalise(fact) == normalise(wanted)


def condition_matches(condition: Condition, facts: Mapping[str, Any]) -> bool:
    fact = facts.get(condition.field)
    values: Iterable[str] = [condition.value] if isinstance(condition.value, str) else condition.value
    if condition.op == ConditionOp.EQUALS or condition.op == ConditionOp.ONE_OF:
        return any(_equal(fact, wanted) for wanted in values)
    needle = normalise(condition.value)
    if isinstance(fact, list | tuple):
        return any(needle in normalise(item) for item in fact)
    return needle in normalise(fact)


def rule_matches(conditions: Iterable[Condition], facts: Mapping[str, Any]) -> bool:
    """True when every condition holds (no conditions: every event of the trigger)."""
    return all(condition_matches(condition, facts) for condition in conditions)
