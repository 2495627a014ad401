"""The immoflow stack as separate processes that a chaos test or a benchmark can kill and restart one by one.

`immoflow dev` supervises its children and stops everything when one dies: right for a developer, wrong
for proving that a crash loses nothing. This harness starts the same pieces (the Temporal dev server with
a WAL file database, worker, web app, an in-process SMTP sink) from the same building blocks
(`starter.dev.children`, `starter.dev.config`), but leaves every kill and restart to the caller.
Every
child runs in its own process group and `close()` stops all of them, whatever happened before.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from temporalio.client import Client

from settings import Settings
from starter.dev.children import Child, spawn, stop_group
from starter.dev.config import LOCAL, DevOptions, answers, free_port, temporal_command
from starter.dev.smtp_sink import SinkHandler

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 25.0  # the worker drains for up to 20 s (worker.GRACEFUL_SHUTDOWN)
POLL = 0.1


class StackError(RuntimeError):
    """A piece of the stack did not come up; the message carries the tail of its log."""


def auth_headers(token: str) -> dict[str, str]:
    """The one place process-level callers authenticate to the API.

    Sent always: while the app has no IMMOFLOW_API_TOKEN setting the header is ignored, once it has one,
    the token handed to the web process through its environment (see `ProcessStack.env`) is the one sent.
    """
    return {"Authorization": f"Bearer {token}"}


def compile_sandboxed_modules() -> None:
    """Bytecode for the modules the sandbox imports afresh for every new workflow run (workflows/, and the
    domain/ rules they apply), as the image has it: pip compiles the package it installs. A checkout run
    under PYTHONDONTWRITEBYTECODE=1 has none, and every sandbox would compile them from source again, which a
    production worker never does (docs/benchmarks.md has what it cost an inquiry and a lead)."""
    for package in ("workflows", "domain"):
        compileall.compile_dir(REPO / package, quiet=1)


class ProcessStack:
    """One stack under ROOT (data dir, logs) on free ports; `async with` closes it, kills included."""

    def __init__(
        self,
        root: Path,
        *,
        database_url: str | None = None,
        task_queue: str = "immoflow",
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.logs = root / "logs"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.temporal_port, self.ui_port, self.web_port, self.smtp_port = (free_port() for _ in range(4))
        self.database_url = database_url or f"sqlite+aiosqlite:///{self.data_dir / 'immoflow.db'}"
        self.task_queue = task_queue
        self.secret_key = secrets.token_urlsafe(32)
        self.api_token = secrets.token_urlsafe(24)
        self.extra_env = dict(extra_env or {})
        # Web apps by name: "web" on web_port, replicas ("web-2", …) on ports of their own, one database.
        self.web_ports: dict[str, int] = {"web": self.web_port}
        self.children: dict[str, Child] = {}
        # Replaceable before (re)starting the sink, e.g. by a handler that misbehaves on purpose.
        self.mail: SinkHandler = SinkHandler(self.data_dir / "mail")
        self._sink: Controller | None = None
        self._client: Client | None = None
        self._starts = 0

    # --- configuration ---------------------------------------------------------------------------------

    def settings(self) -> Settings:
        """What the children read from their environment, for in-process use (database, Temporal client)."""
        return Settings(
            env="test",
            data_dir=self.data_dir,
            database_url=self.database_url,
            temporal_address=f"{LOCAL}:{self.temporal_port}",
            task_queue=self.task_queue,
            smtp_host=LOCAL,
            smtp_port=self.smtp_port,
            public_base_url=self.base_url,
            secret_key=SecretStr(self.secret_key),
        )

    def env(self, **overrides: str) -> dict[str, str]:
        # Nothing of the developer's own IMMOFLOW_* (an external SMTP server, another database) leaks in.
        env = {key: value for key, value in os.environ.items() if not key.startswith("IMMOFLOW_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env.update(
            PYTHONUNBUFFERED="1",
            IMMOFLOW_ENV="test",
            IMMOFLOW_DATA_DIR=str(self.data_dir),
            IMMOFLOW_DATABASE_URL=self.database_url,
            IMMOFLOW_TEMPORAL_ADDRESS=f"{LOCAL}:{self.temporal_port}",
            IMMOFLOW_TASK_QUEUE=self.task_queue,
            IMMOFLOW_SMTP_HOST=LOCAL,
            IMMOFLOW_SMTP_PORT=str(self.smtp_port),
            IMMOFLOW_SMTP_TLS="none",
            IMMOFLOW_SECRET_KEY=self.secret_key,
            IMMOFLOW_API_TOKEN=self.api_token,
            IMMOFLOW_PUBLIC_BASE_URL=self.base_url,
            IMMOFLOW_WEB_HOST=LOCAL,
            IMMOFLOW_WEB_PORT=str(self.web_port),
            IMMOFLOW_LOG_FORMAT="text",
            # One client posts thousands of inquiries a minute here; the per-client limits have their own tests.
            IMMOFLOW_INTAKE_RATE_PER_MINUTE="100000000",
            IMMOFLOW_PROSPECT_RATE_PER_MINUTE="100000000",
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    @property
    def base_url(self) -> str:
        return f"http://{LOCAL}:{self.web_port}"

    # --- processes -------------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        if name in self.children and self.children[name].exit_code() is None:
            raise StackError(f"{name} is already running")
        self._starts += 1
        log = self.logs / f"{name}.log"
        with log.open("ab") as output:
            output.write(f"\n--- start #{self._starts} ---\n".encode())
            output.flush()
            child = spawn(name, argv, env=env, output=output)
        self.children[name] = child
        return child

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def start_temporal(self) -> None:
        options = DevOptions(self.data_dir, self.web_port, self.temporal_port, self.ui_port, self.smtp_port)
        self._spawn("temporal", temporal_command(self.settings(), options), self.env())

    def start_worker(self, name: str = "worker", **env: str) -> Child:
        compile_sandboxed_modules()
        return self._spawn(name, [sys.executable, "-m", "starter.cli", "worker"], self.env(**env))

    def start_web(self, name: str = "web", **env: str) -> Child:
        """NAME other than "web": another replica of the web app, on a port of its own."""
        port = self.web_ports.setdefault(name, free_port())
        argv = [sys.executable, "-m", "starter.cli", "web", "--host", LOCAL, "--port", str(port)]
        return self._spawn(name, argv, self.env(**env))

    def web_url(self, name: str = "web") -> str:
        return f"http://{LOCAL}:{self.web_ports[name]}"

    def start_process(self, name: str, argv: list[str], **env: str) -> Child:
        """Any other child (a benchmark's own worker), with the stack's environment."""
        return self._spawn(name, argv, self.env(**env))

    def kill(self, name: str, signum: signal.Signals = signal.SIGKILL) -> None:
        """Send SIGNUM to NAME's whole process group and wait until the leader is gone."""
        child = self.children[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)
        try:
            child.process.wait(timeout=STOP_TIMEOUT)
        except Exception:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.process.wait()
        # A group outlives its leader when a grandchild holds it: nothing of NAME may survive.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)

    def stop(self, name: str) -> None:
        self.kill(name, signal.SIGTERM)

    def pid(self, name: str) -> int:
        return self.children[name].pid

    # --- readiness -------------------------------------------------------------------------------------

    async def _until(self, ready: Any, what: str, name: str, within: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + within
        while not await ready():
            child = self.children.get(name)
            if child is not None and child.exit_code() is not None:
                raise StackError(f"{what}: {name} exited with {child.exit_code()}:\n{self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise StackError(f"{what} not ready within {within:.0f} s:\n{self.log_tail(name)}")
            await asyncio.sleep(POLL)

    async def wait_temporal(self) -> None:
        async def ready() -> bool:
            return await asyncio.to_thread(answers, self.temporal_port)

        await self._until(ready, "Temporal frontend", "temporal")

    async def wait_worker(self, name: str = "worker") -> None:
        """Ready once it logged that it polls: only then is a kill a kill of a working worker."""
        log = self.logs / f"{name}.log"
        marker = f"--- start #{self._starts_of(name)} ---"

        async def ready() -> bool:
            text = log.read_text(errors="replace") if log.exists() else ""
            return "worker running on task queue" in text.rsplit(marker, 1)[-1]

        await self._until(ready, "worker", name)

    def _starts_of(self, name: str) -> int:
        log = (self.logs / f"{name}.log").read_text(errors="replace")
        return int(log.rsplit("--- start #", 1)[1].split(" ", 1)[0])

    async def wait_web(self, name: str = "web") -> None:
        async def ready() -> bool:
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    response = await http.get(f"{self.web_url(name)}/healthz")
            except httpx.HTTPError:
                return False
            return response.status_code in (200, 503)

        await self._until(ready, "web app", name)

    # --- the pieces in-process -------------------------------------------------------------------------

    def start_sink(self) -> None:
        """(Re)start the SMTP sink on the stack's port; `self.mail` keeps what every sink so far received."""
        if self._sink is None:
            self._sink = Controller(self.mail, hostname=LOCAL, port=self.smtp_port)
            self._sink.start()

    def stop_sink(self) -> None:
        """Stop listening: connections are refused, as with a mail server that is down."""
        if self._sink is not None:
            self._sink.stop()
            self._sink = None

    async def client(self) -> Client:
        from starter.temporal.client import connect_client

        if self._client is None:
            deadline = time.monotonic() + READY_TIMEOUT
            while self._client is None:
                try:
                    self._client = await connect_client(self.settings())
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
        return self._client

    async def prepare(self, *, demo: bool = True) -> None:
        """Migrations, search attributes and demo data: what `immoflow dev` does before its apps start."""
        from db.migrate import upgrade_sync
        from db.session import engine_from_settings, make_session_factory
        from starter.dev.demo import load_demo_data
        from starter.temporal.setup import register_search_attributes

        await asyncio.to_thread(upgrade_sync, self.database_url)
        if demo:
            engine = engine_from_settings(self.settings())
            try:
                await load_demo_data(make_session_factory(engine))
            finally:
                await engine.dispose()
        await self.wait_temporal()
        await register_search_attributes(await self.client())

    async def start(self, *, workers: int = 1, web: bool = True, demo: bool = True) -> ProcessStack:
        """Server, sink, schema and demo, then the apps; returns once all of them answer."""
        self.start_temporal()
        self.start_sink()
        await self.prepare(demo=demo)
        names = ["worker" if n == 0 else f"worker-{n + 1}" for n in range(workers)]
        for name in names:
            self.start_worker(name)
        if web:
            self.start_web()
        for name in names:
            await self.wait_worker(name)
        if web:
            await self.wait_web()
        return self

    def http(self, timeout: float = 30.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers=auth_headers(self.api_token), timeout=timeout)

    # --- teardown --------------------------------------------------------------------------------------

    def close(self) -> None:
        apps = [child for name, child in self.children.items() if name != "temporal"]
        server = [child for name, child in self.children.items() if name == "temporal"]
        try:
            stop_group(apps, STOP_TIMEOUT)
            stop_group(server, 10)
        finally:
            self.stop_sink()

    async def __aenter__(self) -> ProcessStack:
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Blocking on purpose: also runs while the task is being cancelled (Ctrl-C), when an await could not.
        self.close()
