"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The file is parsed by `compose_spec` (the Rust compose_spec crate: unknown keys, bad conditions and
malformed values are errors) with YAML merge keys applied, as Docker Compose applies them. On top of the
specification: every IMMOFLOW_* variable a service gets is a real setting, every service it waits for
exists and can report what it waits for, and every command the image runs is a real `immoflow` command.
"""

from __future__ import annotations

import json
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from compose_spec import PyOptions
from typer.testing import CliRunner

import starter.cli
from settings import Settings
from starter.temporal.codec import codec_from_settings, new_key

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
OPERATIONS = ROOT / "docs" / "operations.md"
SETTING_NAMES = {f"IMMOFLOW_{name.upper()}": name for name in Settings.model_fields}
IMMOFLOW_SERVICES = ("migrate", "temporal-setup", "worker", "web", "codec-server")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


@cache
def compose() -> dict[str, Any]:
    parsed = PyOptions(apply_merge=True).from_yaml(COMPOSE.read_text())
    parsed.validate()  # networks, volumes, configs and secrets that services use are defined
    result: dict[str, Any] = parsed.to_dict()
    return result


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution, enough to see what a container would really get."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise KeyError(f"{name} is required: {arg}")
        if op in (":-", "-") and (value is None or (op == ":-" and not value)):
            return arg
        if op in (":+", "+"):
            return arg if value else ""
        return value or ""

    return INTERPOLATION.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def required_variables() -> set[str]:
    return {m["name"] for m in INTERPOLATION.finditer(COMPOSE.read_text()) if m["op"] in (":?", "?")}


# What an operator puts into the --env-file.
DEPLOY_ENV = {
    "POSTGRES_PASSWORD": "s3cret",
    "IMMOFLOW_PUBLIC_BASE_URL": "https://immo.example.com",
    "IMMOFLOW_SECRET_KEY": "Zq3vN8xK1pW7rT5yB2mC9dF4gH6jL0sA-strong-and-random",
    "IMMOFLOW_CODEC_KEYS": f"k2:{new_key()},k1:{new_key()}",
    "IMMOFLOW_INTAKE_TOKEN": "7f3c9a1e5b2d8f4a6c0e9b3d7a1f5c2e",
    "IMMOFLOW_OPS_TOKEN": "e2c5f1a7d3b9e0c6a4f8d2b5e1a9c3f7",
    "PUBLIC_DOMAIN": "immo.example.com",
}


def test_compose_file_follows_the_specification() -> None:
    assert set(services()) == {
        "postgres",
        "temporal",
        "temporal-ui",
        "mailpit",
        "migrate",
        "temporal-setup",
        "worker",
        "web",
        "proxy",
        "codec-server",
    }


def test_every_immoflow_variable_is_a_real_setting() -> None:
    for name, service in services().items():
        unknown = {key for key in environment(service) if key.startswith("IMMOFLOW_")} - set(SETTING_NAMES)
        assert not unknown, f"{name}: {sorted(unknown)} are not fields of settings.Settings"


def test_settings_load_from_each_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The values, not only the names: after substitution, Settings accepts what each container gets."""
    for name in IMMOFLOW_SERVICES:
        env = {key: interpolate(value, DEPLOY_ENV) for key, value in environment(services()[name]).items()}
        for key in SETTING_NAMES:
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)
        assert settings.env == "production"
        assert settings.log_format == "json"
        if name != "codec-server":
            assert settings.effective_database_url.startswith("postgresql+psycopg://immoflow:s3cret@postgres")
            assert settings.temporal_address == "temporal:7233"
        if name in ("worker", "web"):
            assert settings.production_problems(web=name == "web") == [], f"{name}: production would refuse it"
        if name in ("worker", "web", "codec-server"):
            codec = codec_from_settings(settings)
            assert codec is not None and codec.active_key_id == "k2", f"{name}: payload codec must be on"


def test_secrets_come_from_required_variables_not_from_the_file() -> None:
    secret_fields = {
        env_name
        for env_name, field in SETTING_NAMES.items()
        if "SecretStr" in str(Settings.model_fields[field].annotation)
    }
    for name, service in services().items():
        for key, value in environment(service).items():
            if key in secret_fields or "PASSWORD" in key or key.endswith("_PWD"):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", value), f"{name}.{key} must be ${{VAR:?…}}"


def test_required_variables_are_documented() -> None:
    guide = OPERATIONS.read_text()
    missing = {name for name in required_variables() if name not in guide}
    assert not missing, f"docs/operations.md does not mention {sorted(missing)}"
    assert required_variables() == set(DEPLOY_ENV)
    with pytest.raises(KeyError, match="IMMOFLOW_SECRET_KEY"):
        interpolate(environment(services()["web"])["IMMOFLOW_SECRET_KEY"], {})


def test_dependencies_wait_for_health_or_completion() -> None:
    all_services = services()
    for name, service in all_services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, spec in depends.items():
            assert target in all_services, f"{name} depends on unknown service {target}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in all_services[target], f"{name} waits for {target}, which has no healthcheck"
            elif condition == "service_completed_successfully":
                assert all_services[target].get("restart") == "no", f"{target} must be one-shot"
            else:
                pytest.fail(f"{name} -> {target}: {condition} does not wait for anything")
    for name in ("temporal", "migrate", "temporal-setup", "worker", "web", "temporal-ui"):
        assert all_services[name].get("depends_on"), f"{name} must wait for what it needs"


def test_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} is not declared"
    assert "postgres-data" in declared


def test_the_ui_knows_the_codec_server() -> None:
    ui = environment(services()["temporal-ui"])
    assert interpolate(ui["TEMPORAL_CODEC_ENDPOINT"], {}) == "http://localhost:8081"
    codec = services()["codec-server"]
    assert any(str(port).endswith(":8081") for port in codec.get("ports") or [])


# --- commands ---------------------------------------------------------------------------------------


@cache
def immoflow_cli() -> typer.Typer:
    starter.cli._register_groups()  # what `immoflow` (main) does before dispatching
    return starter.cli.app


def assert_real_command(argv: list[str]) -> None:
    """`immoflow … --help` exits 0 only for a real command whose arguments and options parse."""
    assert argv and argv[0] == "immoflow", f"{argv}: the image runs immoflow commands"
    result = CliRunner().invoke(immoflow_cli(), [*argv[1:], "--help"])
    assert result.exit_code == 0, f"{shlex.join(argv)}: {result.output.strip()[-300:]}"
    assert "Usage: " in result.output and "Commands" not in result.output, f"{shlex.join(argv)} is a group"


def dockerfile_instructions(keyword: str) -> list[list[str]]:
    found = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith(f"{keyword} "):
            found.append(json.loads(line[len(keyword) + 1 :]))  # exec form only: signals reach the process
    return found


def test_dockerfile_runs_real_commands_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    assert "FROM python:3.11-slim" in text
    assert "pip install" in text and re.search(r"^RUN pip install --no-deps \.$", text, re.M)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0")
    [cmd] = dockerfile_instructions("CMD")
    assert_real_command(cmd)
    assert not dockerfile_instructions("ENTRYPOINT")  # so compose's command is the whole command line


def test_services_built_from_the_dockerfile_run_real_commands() -> None:
    built = {name: s for name, s in services().items() if s.get("build")}
    assert set(built) == set(IMMOFLOW_SERVICES)
    commands = {name: service["command"] for name, service in built.items()}
    assert commands["migrate"] == ["immoflow", "db", "upgrade"]
    assert commands["worker"] == ["immoflow", "worker"]
    assert commands["web"] == ["immoflow", "web"]
    for argv in commands.values():
        assert_real_command(argv)


@pytest.mark.parametrize(
    "argv",
    [["immoflow", "wroker"], ["immoflow", "web", "--no-such-option"], ["immoflow", "db"], ["immoflow", "db", "upgrad"]],
)
def test_command_check_catches_typos(argv: list[str]) -> None:
    with pytest.raises(AssertionError):
        assert_real_command(argv)


# --- replicas ---------------------------------------------------------------------------------------

# `docker compose up --scale worker=3 --scale web=2`: Docker refuses a second container of the same name,
# and a second bind of the same host port, so the services that scale may have neither.
SCALED = ("worker", "web")
CADDYFILE = ROOT / "deploy" / "Caddyfile"


def fixed_host_ports(service: dict[str, Any]) -> list[str]:
    """Published ports with a host port given (`8000:8000`, `127.0.0.1:8000:8000`, long syntax `published`)."""
    fixed = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") not in (None, ""):
                fixed.append(str(entry["published"]))
        elif ":" in str(entry).rsplit("/", 1)[0]:  # "container" alone lets Docker pick a free host port
            fixed.append(str(entry))
    return fixed


def scaling_problems(all_services: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for name in SCALED:
        service = all_services[name]
        if "container_name" in service:
            problems.append(f"{name}: container_name {service['container_name']!r}")
        problems += [f"{name}: host port {port}" for port in fixed_host_ports(service)]
    return problems


def test_worker_and_web_scale() -> None:
    assert scaling_problems(services()) == []
    assert "expose" in services()["worker"]  # the metrics port, reachable inside the network only


@pytest.mark.parametrize(
    ("service", "change"),
    [
        ("web", {"ports": ["127.0.0.1:8000:8000"]}),
        ("web", {"ports": [{"target": 8000, "published": 8000}]}),
        ("worker", {"container_name": "immoflow-worker"}),
        ("worker", {"ports": ["9464:9464"]}),
    ],
)
def test_scaling_check_catches_what_docker_refuses(service: str, change: dict[str, Any]) -> None:
    changed = {name: dict(spec) for name, spec in services().items()}
    changed[service].update(change)
    assert scaling_problems(changed)


def test_the_proxy_is_the_web_apps_one_address() -> None:
    proxy, web = services()["proxy"], services()["web"]
    assert fixed_host_ports(proxy) == ["80:80", "443:443"]  # TLS for PUBLIC_DOMAIN; the web replicas publish nothing
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    # Upstreams by DNS, re-resolved: every replica `--scale web=N` makes, on the port the web app listens on.
    port = environment(web)["IMMOFLOW_WEB_PORT"]
    assert re.search(rf"^\s*dynamic a web {port} \{{$", CADDYFILE.read_text(), re.M)
    # The replicas believe X-Forwarded-For (login throttle, rate limits) from the proxy's fixed address only.
    assert environment(web)["IMMOFLOW_TRUSTED_PROXIES"] == proxy["networks"]["edge"]["ipv4_address"]
    assert not web.get("ports")


def test_workers_join_the_deployment_with_their_revision() -> None:
    worker = environment(services()["worker"])
    assert worker["IMMOFLOW_DEPLOYMENT_NAME"] == "immoflow"
    assert interpolate(worker["IMMOFLOW_DEPLOYMENT_PROMOTE"], {}) == "first"
    for name in IMMOFLOW_SERVICES:
        assert services()[name]["build"]["args"] == {"GIT_REVISION": "${GIT_REVISION:-}"}, name
    text = DOCKERFILE.read_text()
    assert 'ARG GIT_REVISION=""' in text and "IMMOFLOW_GIT_REVISION=${GIT_REVISION}" in text
    temporal = services()["temporal"]
    [mount] = temporal["volumes"]
    assert (
        mount.startswith("./deploy/temporal-dynamicconfig.yaml:")
        and (ROOT / "deploy" / "temporal-dynamicconfig.yaml").exists()
    )
    assert environment(temporal)["DYNAMIC_CONFIG_FILE_PATH"] in mount
