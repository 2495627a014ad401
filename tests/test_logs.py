"""Log lines from activities carry the workflow id and run id as fields of their own."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from settings import Settings
from starter.ops.logs import JsonFormatter, TemporalContextFilter, TextFormatter, configure_logging

plain_log = logging.getLogger("immoflow.test.plain")


@activity.defn(name="logs_test_activity")
async def noisy() -> None:
    activity.logger.info("via the SDK logger")
    plain_log.warning("via a plain logger")


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TemporalContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream, handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


async def test_json_lines_carry_workflow_and_run_id(captured: tuple[io.StringIO, logging.Handler]) -> None:
    stream, handler = captured
    handler.setFormatter(JsonFormatter())
    env = ActivityEnvironment()
    await env.run(noisy)
    info = env.info
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ours = [line for line in lines if line["message"].startswith("via ")]
    assert len(ours) == 2
    for line in ours:
        assert line["workflow_id"] == info.workflow_id
        assert line["run_id"] == info.workflow_run_id
        assert line["activity_type"] == info.activity_type
        assert line["attempt"] == info.attempt
        assert "temporal_activity" not in line  # flattened, not nested
    assert {line["logger"] for line in ours} == {"temporalio.activity", "immoflow.test.plain"}


async def test_text_lines_name_the_workflow_for_plain_loggers(captured: tuple[io.StringIO, logging.Handler]) -> None:
    stream, handler = captured
    handler.setFormatter(TextFormatter())
    env = ActivityEnvironment()
    await env.run(noisy)
    sdk_line, plain_line = (line for line in stream.getvalue().splitlines() if "via " in line)
    # The SDK appends its own details to the message; a plain logger's line gets the ids appended.
    assert str(env.info.workflow_id) in sdk_line and "[workflow_id=" not in sdk_line
    assert plain_line.endswith(f"[workflow_id={env.info.workflow_id} run_id={env.info.workflow_run_id}]")


def test_lines_outside_temporal_have_no_ids(captured: tuple[io.StringIO, logging.Handler]) -> None:
    stream, handler = captured
    handler.setFormatter(JsonFormatter())
    plain_log.info("startup")
    line = json.loads(stream.getvalue())
    assert line["message"] == "startup" and "workflow_id" not in line


def test_configure_logging_picks_the_format() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging(Settings(log_format="json", _env_file=None))
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert any(isinstance(f, TemporalContextFilter) for f in root.handlers[0].filters)
        configure_logging(Settings(log_format="text", _env_file=None))
        assert isinstance(root.handlers[0].formatter, TextFormatter)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def test_uvicorn_routine_lines_are_not_logged_as_errors() -> None:
    from starter.ops.logs import UvicornNameFilter

    def record(level: int) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.error", level, __file__, 1, "Application startup complete.", None, None)

    routine, failure = record(logging.INFO), record(logging.ERROR)
    assert UvicornNameFilter().filter(routine) and UvicornNameFilter().filter(failure)
    assert (routine.name, failure.name) == ("uvicorn", "uvicorn.error")
