"""Settings: defaults, IMMOFLOW_* overrides, .env, database URL normalisation, the secret key's life cycle."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from settings import Settings, SettingsError, get_settings, normalise_database_url


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No IMMOFLOW_* from the machine and no .env of the checkout: only what the test sets."""
    for key in list(os.environ):
        if key.startswith("IMMOFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()  # nobody after us gets settings built from this test's environment


def test_defaults(clean_env: Path) -> None:
    settings = Settings()
    assert settings.env == "development"
    assert settings.data_dir == Path(".immoflow")
    assert settings.database_url is None
    assert settings.effective_database_url == "sqlite+aiosqlite:///.immoflow/immoflow.db"
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_namespace == "default"
    assert settings.task_queue == "immoflow"
    assert settings.temporal_ui_port == 8233
    assert settings.smtp_host is None
    assert settings.smtp_tls == "none"
    assert settings.secret_key is None
    assert (settings.web_host, settings.web_port) == ("127.0.0.1", 8000)
    assert settings.public_base_url == "http://localhost:8000"


def test_environment_overrides(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMMOFLOW_WEB_PORT", "9100")
    monkeypatch.setenv("IMMOFLOW_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("IMMOFLOW_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("IMMOFLOW_SMTP_TLS", "starttls")
    monkeypatch.setenv("IMMOFLOW_PUBLIC_BASE_URL", "https://immo.example.com/")
    monkeypatch.setenv("IMMOFLOW_DATA_DIR", str(clean_env / "data"))
    monkeypatch.setenv("IMMOFLOW_RUN_DISPATCHER", "false")

    settings = Settings()

    assert settings.web_port == 9100
    assert settings.smtp_host == "mail.example.com"
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)  # secrets never end up in logs
    assert settings.smtp_tls == "starttls"
    assert settings.public_base_url == "https://immo.example.com"  # no double slash in links
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{clean_env / 'data' / 'immoflow.db'}"
    assert settings.run_dispatcher is False


def test_dotenv_file_is_read_and_environment_wins(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("IMMOFLOW_WEB_PORT=8123\nIMMOFLOW_TASK_QUEUE=from-dotenv\n")
    monkeypatch.setenv("IMMOFLOW_TASK_QUEUE", "from-env")
    settings = Settings()
    assert settings.web_port == 8123
    assert settings.task_queue == "from-env"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("IMMOFLOW_SMTP_TLS", "sometimes"), ("IMMOFLOW_WEB_PORT", "eighty"), ("IMMOFLOW_LOG_FORMAT", "xml")],
)
def test_invalid_values_are_refused(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("IMMOFLOW_").lower()):
        Settings()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/immo", "postgresql+psycopg://u:p@db:5432/immo"),
        ("postgresql://u@db/immo", "postgresql+psycopg://u@db/immo"),
        ("postgresql+psycopg2://u@db/immo", "postgresql+psycopg://u@db/immo"),
        ("postgresql+psycopg://u@db/immo", "postgresql+psycopg://u@db/immo"),
        ("sqlite:///data/immo.db", "sqlite+aiosqlite:///data/immo.db"),
        ("sqlite+aiosqlite:///data/immo.db", "sqlite+aiosqlite:///data/immo.db"),
    ],
)
def test_database_url_normalisation(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_database_url_from_environment_is_normalised(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMMOFLOW_DATABASE_URL", "postgres://immo@db.internal:5432/immoflow")
    assert Settings().effective_database_url == "postgresql+psycopg://immo@db.internal:5432/immoflow"


def test_secret_key_is_generated_once_and_reused(clean_env: Path) -> None:
    data_dir = clean_env / "fresh" / "data"
    first = Settings(data_dir=data_dir).effective_secret_key()
    key_file = data_dir / "secret_key"

    assert len(first) >= 32
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # only the owner may read it
    # A second process (worker, web app) with the same data dir signs with the same key.
    assert Settings(data_dir=data_dir).effective_secret_key() == first
    assert Settings(data_dir=clean_env / "other").effective_secret_key() != first


def test_configured_secret_key_wins_and_writes_nothing(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMMOFLOW_SECRET_KEY", "configured-key")
    settings = Settings(data_dir=clean_env / "data")
    assert settings.effective_secret_key() == "configured-key"
    assert not (clean_env / "data" / "secret_key").exists()


def test_production_without_secret_key_raises(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMMOFLOW_ENV", "production")
    settings = Settings(data_dir=clean_env / "data")
    with pytest.raises(SettingsError, match="IMMOFLOW_SECRET_KEY"):
        settings.effective_secret_key()
    assert not (clean_env / "data" / "secret_key").exists()


def test_production_ignores_a_generated_key_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key left in the data dir by a dev run must not quietly become the production key."""
    Settings(data_dir=clean_env / "data").effective_secret_key()
    monkeypatch.setenv("IMMOFLOW_ENV", "production")
    with pytest.raises(SettingsError):
        Settings(data_dir=clean_env / "data").effective_secret_key()


def test_get_settings_is_cached(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMMOFLOW_WEB_PORT", "8400")
    assert get_settings() is get_settings()
    assert get_settings().web_port == 8400


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`IMMOFLOW_{name.upper()}`" not in readme]
    assert missing == [], "add these to the configuration table in README.md"
