"""Property: every settings document the API accepts becomes a configuration with which an inquiry workflow
runs to a final state (time-skipping server, real activities and database), never a stuck workflow task."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from db.session import create_engine, make_session_factory
from settings import Settings, venv_binary
from tests import factories
from tests.conftest import register_search_attributes, truncate_all
from tests.inquiry_harness import running_harness
from web.api.settings import config_problems
from workflows.inquiry_base import FINAL_STATES
from workflows.inquiry_models import InquiryManagerConfig, InquiryState

RULE_FIELDS = st.sampled_from(["portal", "property", "email_domain", "mailbox"])
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
valid_durations = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=365))
durations = st.one_of(
    valid_durations.map(lambda d: d.total_seconds()),  # seconds, as the API takes them
    valid_durations.map(lambda d: f"PT{int(d.total_seconds())}S"),
    st.integers(-10, 10**10).map(str),
    st.sampled_from(["P2D", "PT30S", "PT0.001S", "P999999999D", "P365D", "P366D", "PT1S", "P0D", "-P1D"]),
)
kinds = st.text(st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=30)
documents = st.fixed_dictionaries(
    {
        "confirmation_enabled": st.booleans(),
        "duplicate_check": st.sampled_from(["email", "name_zip", "off"]),
        "task_on_duplicate": st.booleans(),
        "send_expose": st.booleans(),
        "followup_interval": durations,
        "followup_attempts": st.integers(-1, 12),
        "final_notice": st.sampled_from(["task", "email", "none"]),
        "stop_activity_kinds": st.lists(kinds, max_size=22),
        "duplicate_review_window": durations,
        "exceptions": st.lists(
            st.fixed_dictionaries(
                {
                    "id": kinds,
                    "label": kinds,
                    "field": RULE_FIELDS,
                    "value": st.one_of(texts, st.just("immoscout24")),
                    "action": st.sampled_from(["no_automation", "address_only"]),
                }
            ),
            max_size=3,
        ),
    }
)


def accepted(document: dict[str, Any]) -> InquiryManagerConfig | None:
    """What PUT /api/settings/inquiry-manager accepts (development office), or None."""
    try:
        config = InquiryManagerConfig.model_validate(document)
    except ValidationError:
        return None
    return None if config_problems(config, production=False) else config


async def run_inquiry(config: InquiryManagerConfig, sqlite_url: str, settings_: Settings) -> InquiryState:
    engine = create_engine(sqlite_url)
    try:
        await truncate_all(engine)
        sessions = make_session_factory(engine)
        await factories.office(sessions)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
        )
        await register_search_attributes(env.client)
        try:
            async with running_harness(env.client, sessions, settings_, "tq-property") as harness:
                await harness.configure(**config.model_dump(mode="json"))
                inquiry = await factories.inquiry(sessions, email="eigenschaft@example.com")
                async with asyncio.timeout(60):
                    snapshot = await (await harness.start(inquiry)).result()
                state: InquiryState = snapshot.state
                return state
        finally:
            await env.shutdown()
    finally:
        await engine.dispose()


@pytest.mark.timeout(600)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents)
def test_every_accepted_settings_document_runs_an_inquiry_to_its_end(
    document: dict[str, Any], sqlite_url: str, tmp_path: Path, smtp_sink: Any
) -> None:
    config = accepted(document)
    if config is None:
        return  # refused with a 422 (tests/test_settings_bounds.py checks the refusals)
    settings_ = Settings(
        env="test",
        data_dir=tmp_path,
        database_url=sqlite_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        public_base_url="http://testserver",
    )
    note(f"accepted: {config.model_dump_json()}")
    state = asyncio.run(run_inquiry(config, sqlite_url, settings_))
    assert state in FINAL_STATES or state == InquiryState.ABORTED, state
