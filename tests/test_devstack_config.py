"""What `immoflow dev` hands its children: the arguments of the Temporal server and the apps' environment."""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

import pytest

from settings import Settings
from starter.dev.config import DevOptions, answers, child_environment, port_free, temporal_command


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no IMMOFLOW_* of the machine, no .env of the checkout."""
    for key in list(os.environ):
        if key.startswith("IMMOFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def options(tmp_path: Path) -> DevOptions:
    return DevOptions(data_dir=tmp_path / "data", web_port=18001, temporal_port=17001, ui_port=18002, smtp_port=11001)


def test_options_default_to_settings_and_flags_win(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, web_port=8100, temporal_address="localhost:7300", temporal_ui_port=8300)
    defaults = DevOptions.from_settings(settings)
    assert (defaults.data_dir, defaults.web_port, defaults.temporal_port, defaults.ui_port, defaults.smtp_port) == (
        tmp_path,
        8100,
        7300,
        8300,
        1025,
    )
    chosen = DevOptions.from_settings(settings, web_port=9000, smtp_port=2525, load_demo=False)
    assert (chosen.web_port, chosen.smtp_port, chosen.load_demo, chosen.temporal_port) == (9000, 2525, False, 7300)


def test_temporal_server_keeps_its_state_in_the_data_dir(options: DevOptions) -> None:
    command = temporal_command(Settings(), options)
    pairs = dict(itertools.pairwise(command))

    assert command[1:3] == ["server", "start-dev"]
    assert pairs["--db-filename"] == str(options.data_dir.resolve() / "temporal.db")
    pragmas = [value for flag, value in itertools.pairwise(command) if flag == "--sqlite-pragma"]
    assert pragmas == ["journal_mode=wal", "synchronous=normal"]
    assert (pairs["--port"], pairs["--ui-port"]) == ("17001", "18002")
    assert "--headless" not in command  # the UI is part of the stack
    assert "ImmoflowKind=Keyword" in command
    assert "--namespace" not in command
    other = temporal_command(Settings(temporal_namespace="office"), options)
    assert dict(itertools.pairwise(other))["--namespace"] == "office"


def test_children_point_at_this_stack(options: DevOptions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMMOFLOW_SMTP_USER", "someone")
    env = child_environment(Settings(), options, smtp_sink_port=11001)

    assert env["IMMOFLOW_DATA_DIR"] == str(options.data_dir.resolve())
    assert env["IMMOFLOW_TEMPORAL_ADDRESS"] == "127.0.0.1:17001"
    assert env["IMMOFLOW_TEMPORAL_UI_URL"] == "http://localhost:18002"
    assert env["IMMOFLOW_PUBLIC_BASE_URL"] == "http://localhost:18001"
    assert (env["IMMOFLOW_SMTP_HOST"], env["IMMOFLOW_SMTP_PORT"], env["IMMOFLOW_SMTP_TLS"]) == (
        "127.0.0.1",
        "11001",
        "none",
    )
    assert "IMMOFLOW_SMTP_USER" not in env  # the sink takes no login
    assert "IMMOFLOW_SECRET_KEY" not in env  # read from the data dir's key file, never passed around
    # One build, current at each start: a restart with changed code strands no pinned inquiry.
    assert (env["IMMOFLOW_BUILD_ID"], env["IMMOFLOW_DEPLOYMENT_PROMOTE"]) == ("dev", "always")


def test_configured_values_are_kept(options: DevOptions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMMOFLOW_PUBLIC_BASE_URL", "https://tunnel.example.com")
    monkeypatch.setenv("IMMOFLOW_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("IMMOFLOW_BUILD_ID", "try-2")
    base = Settings()
    env = child_environment(base, options, smtp_sink_port=None)

    assert env["IMMOFLOW_PUBLIC_BASE_URL"] == "https://tunnel.example.com"
    assert env["IMMOFLOW_SMTP_HOST"] == "mail.example.com"
    assert env["IMMOFLOW_BUILD_ID"] == "try-2"
    assert "IMMOFLOW_SMTP_PORT" not in env or env["IMMOFLOW_SMTP_PORT"] != "11001"


def test_port_probes() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not port_free(port)
        assert answers(port)
    assert port_free(port)
    assert not answers(port)
