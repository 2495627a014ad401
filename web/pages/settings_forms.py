"""The inquiry manager settings as an HTML form: German durations, the exceptions table, friendly errors.

`parse_form` turns the posted fields into an InquiryManagerConfig or a dict of field errors; `form_values`
does the reverse for showing a saved configuration. Field names of the exceptions table are indexed
(`exceptions-0-label`), so any number of rows can be edited, removed or added in one submit.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError

from db.models import ActivityKind
from web.texts import t, tn
from workflows.inquiry_models import (
    DuplicateCheck,
    ExceptionAction,
    ExceptionField,
    ExceptionRule,
    FinalNotice,
    InquiryManagerConfig,
)

DUPLICATE_CHECKS: tuple[str, ...] = get_args(DuplicateCheck)
FINAL_NOTICES: tuple[str, ...] = get_args(FinalNotice)
MAX_EXCEPTIONS = 100

_UNITS = {
    "w": 7 * 86400, "woche": 7 * 86400, "wochen": 7 * 86400, "week": 7 * 86400, "weeks": 7 * 86400,
    "d": 86400, "t": 86400, "tag": 86400, "tage": 86400, "tagen": 86400, "day": 86400, "days": 86400,
    "h": 3600, "std": 3600, "stunde": 3600, "stunden": 3600, "hour": 3600, "hours": 3600,
    "m": 60, "min": 60, "minute": 60, "minuten": 60, "minutes": 60,
    "s": 1, "sek": 1, "sekunde": 1, "sekunden": 1, "sec": 1, "second": 1, "seconds": 1,
}  # fmt: skip
_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([a-zäöü]+)\.?")
_SEPARATOR = re.compile(r"[\s,+]*(?:und|and)?[\s,+]*")
_SECONDS = TypeAdapter(timedelta)


def parse_duration(text: str) -> timedelta:
    """ "2 Tage", "1 Tag 12 Stunden", "36h", "2d 3h", "P2D", "PT30S" or plain seconds ("172800")."""
    value = text.strip().lower()
    if not value:
        raise ValueError(t("validation.duration"))
    if re.fullmatch(r"\d+(?:[.,]\d+)?", value):
        return timedelta(seconds=float(value.replace(",", ".")))
    if value.startswith("p"):
        try:
            return _SECONDS.validate_python(value.upper())
        except ValidationError as exc:
            raise ValueError(t("validation.duration")) from exc
    total, position = 0.0, 0
    for match in _PART.finditer(value):
        if not _SEPARATOR.fullmatch(value[position : match.start()]) or match.group(2) not in _UNITS:
            raise ValueError(t("validation.duration"))
        total += float(match.group(1).replace(",", ".")) * _UNITS[match.group(2)]
        position = match.end()
    if position == 0 or value[position:].strip():
        raise ValueError(t("validation.duration"))
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """The reverse, in words: 2 Tage · 1 Tag 12 Stunden · 30 Sekunden."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return t("duration.zero")
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(tn(f"duration.{unit}", count, n=count))  # digits only: the form parses it back
    return " ".join(parts)


def activity_kinds(selected: list[str]) -> list[str]:
    """Every journal kind the office knows, plus any configured one that is not (kept, not silently lost)."""
    known = [str(kind) for kind in ActivityKind]
    return known + [kind for kind in selected if kind not in known]


def form_values(config: InquiryManagerConfig) -> dict[str, Any]:
    return {
        "confirmation_enabled": config.confirmation_enabled,
        "duplicate_check": config.duplicate_check,
        "task_on_duplicate": config.task_on_duplicate,
        "send_expose": config.send_expose,
        "followup_interval": format_duration(config.followup_interval),
        "followup_attempts": str(config.followup_attempts),
        "final_notice": config.final_notice,
        "stop_activity_kinds": list(config.stop_activity_kinds),
        "duplicate_review_window": format_duration(config.duplicate_review_window),
        "exceptions": [rule.model_dump(mode="json") for rule in config.exceptions],
    }


def parse_form(
    form: Mapping[str, Any], kinds: list[str]
) -> tuple[InquiryManagerConfig | None, dict[str, Any], dict[str, str]]:
    """(the config or None, values to show again, errors by field name).

    FORM maps names to a list of submitted strings (checkbox groups submit several).
    """
    errors: dict[str, str] = {}

    def one(name: str) -> str:
        submitted = form.get(name) or [""]
        return str(submitted[0]).strip()

    def choice(name: str, allowed: tuple[str, ...]) -> str:
        value = one(name)
        if value not in allowed:
            errors[name] = t("validation.choice")
        return value

    values: dict[str, Any] = {
        "confirmation_enabled": one("confirmation_enabled") == "1",
        "task_on_duplicate": one("task_on_duplicate") == "1",
        "send_expose": one("send_expose") == "1",
        "duplicate_check": choice("duplicate_check", DUPLICATE_CHECKS),
        "final_notice": choice("final_notice", FINAL_NOTICES),
        "followup_interval": one("followup_interval"),
        "duplicate_review_window": one("duplicate_review_window"),
        "followup_attempts": one("followup_attempts"),
        "stop_activity_kinds": [str(kind) for kind in form.get("stop_activity_kinds", []) if str(kind) in kinds],
        "exceptions": _exception_rows(form, errors),
    }
    parsed: dict[str, Any] = {}
    for name in ("followup_interval", "duplicate_review_window"):
        try:
            parsed[name] = parse_duration(values[name])
        except ValueError as exc:
            errors[name] = str(exc)
    if "followup_interval" in parsed and parsed["followup_interval"] <= timedelta(0):
        errors["followup_interval"] = t("validation.duration_positive")
    attempts = values["followup_attempts"]
    if not attempts.isdigit() or not 0 <= int(attempts) <= 10:
        errors["followup_attempts"] = t("validation.attempts")
    if errors:
        return None, values, errors
    try:
        config = InquiryManagerConfig.model_validate({**values, **parsed, "followup_attempts": int(attempts)})
    except ValidationError as exc:  # the model's bounds (workflows/inquiry_models.py) name the field
        for error in exc.errors():
            name = str(error["loc"][0])
            errors[name] = t(BOUND_TEXTS.get(name, "validation.invalid"))
        return None, values, errors
    return config, values, errors


BOUND_TEXTS = {
    "followup_interval": "validation.interval_bounds",
    "duplicate_review_window": "validation.window_bounds",
    "followup_attempts": "validation.attempts",
}


def _exception_rows(form: Mapping[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for index in range(MAX_EXCEPTIONS + 1):
        prefix = f"exceptions-{index}-"
        if not any(name.startswith(prefix) for name in form):
            continue
        row = {key: str((form.get(prefix + key) or [""])[0]).strip() for key in ("id", "label", "field", "value")}
        row["action"] = str((form.get(prefix + "action") or [""])[0]).strip()
        if (form.get(prefix + "remove") or [""])[0] == "1":
            continue
        is_new = not row["id"]
        if is_new and not row["label"] and not row["value"]:
            continue  # the empty "new exception" row left empty
        row["id"] = row["id"] or uuid.uuid4().hex[:12]
        row["label"] = row["label"] or row["value"]
        try:
            ExceptionRule.model_validate(row)
        except ValidationError as exc:
            for error in exc.errors():
                field = str(error["loc"][0])
                errors[prefix + field] = _german(error, field)
        rows.append(row)
    return rows


def _german(error: Mapping[str, Any], field: str) -> str:
    kind = str(error.get("type", ""))
    if kind in ("missing", "string_too_short"):
        return t("validation.required")
    if kind == "string_too_long":
        return t("validation.too_long")
    if field in ("field", "action"):
        return t("validation.choice")
    return str(error.get("msg", ""))


EXCEPTION_FIELDS = [str(field) for field in ExceptionField]
EXCEPTION_ACTIONS = [str(action) for action in ExceptionAction]
