"""What `immoflow dev` starts, and with which arguments and environment: pure functions, no processes."""

from __future__ import annotations

import os
import random
import socket
from dataclasses import dataclass
from pathlib import Path

from settings import Settings, venv_binary

LOCAL = "127.0.0.1"
DEV_BUILD_ID = "dev"


@dataclass(frozen=True)
class DevOptions:
    data_dir: Path
    web_port: int
    temporal_port: int
    ui_port: int
    smtp_port: int
    load_demo: bool = True
    imap_port: int = 1143

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        data_dir: Path | None = None,
        web_port: int | None = None,
        temporal_port: int | None = None,
        ui_port: int | None = None,
        smtp_port: int | None = None,
        load_demo: bool = True,
        imap_port: int | None = None,
    ) -> DevOptions:
        """Command-line options win; what they leave out comes from settings (IMMOFLOW_*)."""
        address_port = settings.temporal_address.rsplit(":", 1)[-1]
        return cls(
            data_dir=data_dir if data_dir is not None else settings.data_dir,
            web_port=web_port or settings.web_port,
            temporal_port=temporal_port or (int(address_port) if address_port.isdigit() else 7233),
            ui_port=ui_port or settings.temporal_ui_port,
            smtp_port=smtp_port or settings.smtp_port,
            load_demo=load_demo,
            imap_port=imap_port or settings.dev_imap_port,
        )


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is no conflict
        try:
            sock.bind((LOCAL, port))
        except OSError:
            return False
    return True


# Where test and benchmark stacks put their servers: below Linux's ephemeral range (32768-60999 by default),
# from which the kernel takes every bind(0) and the source port of every outgoing connection. A port found by
# bind(0) and let go can become some connection's source port before the server binds it; CI saw Temporal's
# UI fail that way ("address already in use") when a chaos test restarted it.
STACK_PORTS = range(20000, 32768)


def free_port() -> int:
    """A port on LOCAL that nothing listens on now, from STACK_PORTS."""
    for _ in range(500):
        port = random.choice(STACK_PORTS)
        if port_free(port):
            return port
    raise OSError(f"no free port in {STACK_PORTS.start}-{STACK_PORTS.stop - 1}")


def answers(port: int, host: str = LOCAL) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def child_environment(base: Settings, options: DevOptions, smtp_sink_port: int | None) -> dict[str, str]:
    """The environment of worker and web app: everything points at this stack's services."""
    env = dict(os.environ)
    env.update(
        IMMOFLOW_DATA_DIR=str(options.data_dir.resolve()),
        IMMOFLOW_TEMPORAL_ADDRESS=f"{LOCAL}:{options.temporal_port}",
        IMMOFLOW_TEMPORAL_UI_PORT=str(options.ui_port),
        IMMOFLOW_WEB_PORT=str(options.web_port),
        PYTHONUNBUFFERED="1",  # their log lines reach the terminal as they happen
    )
    # Links must point at the ports chosen here, unless the developer configured them on purpose.
    if "temporal_ui_url" not in base.model_fields_set:
        env["IMMOFLOW_TEMPORAL_UI_URL"] = f"http://localhost:{options.ui_port}"
    if "public_base_url" not in base.model_fields_set:
        env["IMMOFLOW_PUBLIC_BASE_URL"] = f"http://localhost:{options.web_port}"
    # Worker Versioning as in production, with one build that is current at every start: a build ID per
    # commit would leave the pinned inquiries of the last commit waiting for a worker that no longer runs.
    if "build_id" not in base.model_fields_set:
        env["IMMOFLOW_BUILD_ID"] = DEV_BUILD_ID
    if "deployment_promote" not in base.model_fields_set:
        env["IMMOFLOW_DEPLOYMENT_PROMOTE"] = "always"
    if smtp_sink_port is not None:
        env.update(IMMOFLOW_SMTP_HOST=LOCAL, IMMOFLOW_SMTP_PORT=str(smtp_sink_port), IMMOFLOW_SMTP_TLS="none")
        for key in ("IMMOFLOW_SMTP_USER", "IMMOFLOW_SMTP_PASSWORD"):  # the sink takes no login
            env.pop(key, None)
    return env


def temporal_command(settings: Settings, options: DevOptions) -> list[str]:
    from starter.services.attention import TASK_PROBLEMS_FLAG
    from starter.temporal.setup import dev_server_flags

    command = [
        venv_binary("temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(options.data_dir.resolve() / "temporal.db"),
        # ~2x the workflow throughput of SQLite's defaults, still durable across a process crash.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--ip",
        LOCAL,
        "--port",
        str(options.temporal_port),
        "--ui-port",
        str(options.ui_port),
        "--ui-disable-news-fetch",
        *TASK_PROBLEMS_FLAG,  # flags workflows whose tasks keep failing ("needs attention")
        *dev_server_flags(),
    ]
    if settings.temporal_namespace != "default":
        command += ["--namespace", settings.temporal_namespace]
    return command
