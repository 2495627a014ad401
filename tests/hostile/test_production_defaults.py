"""Issue 17.1: production refuses weak setups, and every environment but development is production."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

import starter.cli
from settings import Settings, SettingsError, get_settings
from tests.hostile.security_support import production, served
from web.app import create_app

pytestmark = pytest.mark.one_backend


@pytest.mark.parametrize(
    ("weakness", "changes", "names"),
    [
        ("short secret", {"secret_key": SecretStr("x")}, "IMMOFLOW_SECRET_KEY"),
        ("repetitive secret", {"secret_key": SecretStr("x" * 64)}, "IMMOFLOW_SECRET_KEY"),
        ("no secret", {"secret_key": None}, "IMMOFLOW_SECRET_KEY"),
        ("http base URL", {"public_base_url": "http://localhost:8000"}, "IMMOFLOW_PUBLIC_BASE_URL"),
        ("open intake", {"intake_token": None}, "IMMOFLOW_INTAKE_TOKEN"),
        ("short intake token", {"intake_token": SecretStr("portal")}, "IMMOFLOW_INTAKE_TOKEN"),
        ("short api token", {"api_token": SecretStr("dev-token")}, "IMMOFLOW_API_TOKEN"),
    ],
)
def test_production_refuses_a_weak_setup_and_says_what_to_set(
    settings: Settings, weakness: str, changes: dict[str, object], names: str
) -> None:
    with pytest.raises(SettingsError, match=names) as refused:
        create_app(production(settings, **changes))
    assert "is not safe to serve" in str(refused.value), weakness


def test_the_setup_of_the_issue_is_refused_with_every_reason(settings: Settings) -> None:
    weak = settings.model_copy(
        update={"env": "production", "secret_key": SecretStr("x"), "public_base_url": "http://localhost:8000"}
    )
    with pytest.raises(SettingsError) as refused:
        create_app(weak)
    message = str(refused.value)
    for name in ("IMMOFLOW_SECRET_KEY", "IMMOFLOW_PUBLIC_BASE_URL", "IMMOFLOW_INTAKE_TOKEN"):
        assert name in message


@pytest.mark.parametrize("env", ["production", "staging", "prod", "Development", "produciton"])
def test_any_other_environment_is_production(settings: Settings, env: str) -> None:
    weak = settings.model_copy(update={"env": env, "secret_key": SecretStr("x")})
    assert weak.is_production
    with pytest.raises(SettingsError, match="IMMOFLOW_SECRET_KEY"):
        create_app(weak)


async def test_a_strong_production_setup_starts(settings: Settings) -> None:
    async with served(production(settings)) as (http, _):
        assert (await http.get("/login")).status_code == 200


@pytest.mark.parametrize("env", ["test", "production"])
async def test_dev_tools_exist_in_development_only(settings: Settings, env: str) -> None:
    chosen = production(settings) if env == "production" else settings.model_copy(update={"env": env})
    async with served(chosen) as (http, _):
        assert (await http.get("/dev/mail")).status_code == 404
        assert (await http.get("/dev/sms")).status_code == 404
    async with served(settings.model_copy(update={"env": "development"})) as (http, _):
        assert (await http.get("/dev/mail")).status_code == 200


@pytest.mark.parametrize("command", ["web", "worker"])
def test_the_commands_refuse_to_start_and_say_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    for name in [name for name in os.environ if name.startswith("IMMOFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("IMMOFLOW_ENV", "production")
    monkeypatch.setenv("IMMOFLOW_SECRET_KEY", "x")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(starter.cli.app, [command])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    for name in ("IMMOFLOW_SECRET_KEY", "IMMOFLOW_PUBLIC_BASE_URL"):
        assert name in result.output
    assert ("IMMOFLOW_INTAKE_TOKEN" in result.output) == (command == "web")  # the worker serves no intake
