"""Pydantic's validation errors in German, for the office's forms and import reports (pages speak German)."""

from __future__ import annotations

from pydantic import ValidationError


def german_problem(exc: ValidationError, labels: dict[str, str]) -> str:
    """The first error as `Feld: was falsch ist`; LABELS names the fields as the form does."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else ""
    context = error.get("ctx") or {}
    kind = error["type"]
    if kind in ("missing", "string_too_short") and not context.get("min_length", 1) > 1:
        message = "bitte angeben"
    elif kind == "string_too_short":
        message = f"mindestens {context['min_length']} Zeichen"
    elif kind == "string_too_long":
        message = f"höchstens {context.get('max_length')} Zeichen"
    elif kind == "too_long":
        message = f"höchstens {context.get('max_length')} Einträge"
    elif kind == "string_pattern_mismatch":
        message = "enthält nicht erlaubte Zeichen (z. B. Leerzeichen, /, \\, ? oder #)"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        message = "liegt außerhalb des gültigen Bereichs"
    elif kind == "enum":
        message = "ungültige Auswahl"
    elif kind.startswith(("date", "datetime")):
        message = "kein gültiges Datum"
    elif kind.startswith(("int", "decimal", "float")):
        message = "keine gültige Zahl"
    elif kind == "value_error":
        message = str(error["msg"]).removeprefix("Value error, ")
    else:
        message = "ungültig"
    return f"{labels.get(name, name)}: {message}" if name else message
