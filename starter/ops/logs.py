"""Logging: readable lines in development, one JSON object per line in production.

Lines logged while an activity or a workflow runs carry its workflow id and run id as fields of their own
(`workflow_id`, `run_id`, …), so ops can grep or filter one inquiry's trail across worker replicas.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

from temporalio import activity
from typing_extensions import override

from settings import Settings

# The SDK's `temporal_activity` / `temporal_workflow` extras, flattened to these record attributes.
TEMPORAL_FIELDS = {
    "workflow_id": "workflow_id",
    "workflow_run_id": "run_id",  # activity details name it so
    "run_id": "run_id",  # workflow details name it so
    "workflow_type": "workflow_type",
    "activity_type": "activity_type",
    "activity_id": "activity_id",
    "attempt": "attempt",
    "task_queue": "task_queue",
    "namespace": "namespace",
}
_FLAT_FIELDS = tuple(dict.fromkeys(TEMPORAL_FIELDS.values()))
_SDK_EXTRAS = ("temporal_activity", "temporal_workflow")


def _activity_details() -> Mapping[str, Any] | None:
    """For records from plain loggers (not `activity.logger`) that are emitted inside an activity."""
    if not activity.in_activity():
        return None
    info = activity.info()
    return {
        "workflow_id": info.workflow_id,
        "workflow_run_id": info.workflow_run_id,
        "workflow_type": info.workflow_type,
        "activity_type": info.activity_type,
        "activity_id": info.activity_id,
        "attempt": info.attempt,
        "task_queue": info.task_queue,
        "namespace": info.namespace,
    }


class TemporalContextFilter(logging.Filter):
    """Copies the workflow/activity context onto the record as flat attributes; filters nothing out."""

    def filter(self, record: logging.LogRecord) -> bool:
        details = next((d for d in (getattr(record, k, None) for k in _SDK_EXTRAS) if isinstance(d, Mapping)), None)
        if details is None:
            details = _activity_details()
        if details is not None:
            for source, target in TEMPORAL_FIELDS.items():
                value = details.get(source)
                if value is not None and getattr(record, target, None) is None:
                    setattr(record, target, value)
        return True


class UvicornNameFilter(logging.Filter):
    """uvicorn writes its routine lines ("Started server process", "Application startup complete") to the
    logger "uvicorn.error"; under that name a healthy start reads like a failure, so they appear as
    "uvicorn". Warnings and errors keep the original name."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.error" and record.levelno < logging.WARNING:
            record.name = "uvicorn"
        return True


# Prospect links carry their signed token in the path; whoever reads the access log must not be able to
# open a prospect's form with it. Redacted in every record, whichever logger (uvicorn.access above all) wrote it.
_SECRET_PATH = re.compile(r"/(confirm|slots)/[^/?#\s\"']+")
REDACTED = "…"


def redact(text: str) -> str:
    return _SECRET_PATH.sub(lambda match: f"/{match.group(1)}/{REDACTED}", text)


class RedactSecretsFilter(logging.Filter):
    """Replaces link tokens in the message and its arguments before any formatter sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


def _redacted(value: object) -> object:
    """Strings, and objects that print as one (httpx.URL): a number stays a number for %d."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = value if isinstance(value, str) else str(value)
    redacted = redact(text)
    return value if redacted == text and not isinstance(value, str) else redacted


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _FLAT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    @override  # logging's camelCase name
    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        # The SDK's own loggers already append their details to the message; plain loggers get the ids.
        workflow_id = getattr(record, "workflow_id", None)
        if workflow_id is not None and not any(hasattr(record, k) for k in _SDK_EXTRAS):
            line += f" [workflow_id={workflow_id} run_id={getattr(record, 'run_id', None)}]"
        return line


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    # On the handler, not a logger: handler filters see records propagated from every child logger.
    handler.addFilter(TemporalContextFilter())
    handler.addFilter(UvicornNameFilter())
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
