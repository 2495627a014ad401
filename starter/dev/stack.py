"""`immoflow dev`: the whole stack on one machine with one command.

Temporal dev server (file database in WAL mode under the data dir, so sleeping workflows survive a
restart) → search attributes → migrations → SMTP sink (only without IMMOFLOW_SMTP_HOST) → demo data on
first start → worker and web app as child processes. Ctrl-C / SIGTERM stops all of it; a child that dies
stops the rest, so the developer never works against half a stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import IO

from messaging.imap_client import ImapConfig
from settings import Settings, SettingsError, get_settings
from starter.dev.children import Child, PidFile, reap_leftovers, spawn, stop_group
from starter.dev.config import (
    DEV_BUILD_ID,
    LOCAL,
    DevOptions,
    answers,
    child_environment,
    port_free,
    temporal_command,
)
from starter.dev.smtp_sink import Deliver, SmtpSink

TEMPORAL_READY_TIMEOUT = 60.0
WEB_READY_TIMEOUT = 90.0
IMAP_READY_TIMEOUT = 30.0
# The worker drains running activities for up to 20 s (worker.GRACEFUL_SHUTDOWN) before it exits.
APP_STOP_TIMEOUT = 30.0
TEMPORAL_STOP_TIMEOUT = 15.0
POLL = 0.2
# A crashed worker or web app is started again after 1, 2, 4 … s (at most 30 s); one that then ran for a
# minute counts as healthy again, so the next crash waits 1 s. The Temporal server is not restarted: its
# death stops the stack (its database and ports are what everything else depends on).
RESTARTABLE = frozenset({"worker", "web app"})
RESTART_FIRST_DELAY = 1.0
RESTART_MAX_DELAY = 30.0
RESTART_STABLE_AFTER = 60.0

Echo = Callable[[str], None]


class StackError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


class StopRequested(Exception):  # noqa: N818  (a request, not an error)
    pass


@dataclass
class _Restart:
    started_at: float
    attempts: int = 0
    due: float | None = None  # when the crashed child is started again; None while it runs


class DevStack:
    def __init__(self, options: DevOptions, base: Settings | None = None, echo: Echo = print) -> None:
        self.options = options
        self.echo = echo
        base = base or get_settings()
        self.base = base
        # The dev process itself works with the same data dir and addresses as its children.
        self.settings = base.model_copy(
            update={"data_dir": options.data_dir, "temporal_address": f"{LOCAL}:{options.temporal_port}"}
        )
        self.children: list[Child] = []
        self.sink: SmtpSink | None = None
        self.imap: ImapConfig | None = None
        self.pid_file = PidFile(options.data_dir / "dev-pids.json")
        self._stop = threading.Event()
        self._stop_reason = ""
        self._envs: dict[str, dict[str, str]] = {}
        self._restarts: dict[str, _Restart] = {}

    # --- signals ---------------------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Only record it: the main loop notices within POLL seconds and stops things in order.
        if not self._stop.is_set():
            self._stop_reason = signal.Signals(signum).name
            self._stop.set()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {signum: signal.signal(signum, self._on_signal) for signum in watched}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _check(self) -> None:
        """Between steps: stop when asked to, or when a child died."""
        if self._stop.is_set():
            raise StopRequested
        for child in self.children:
            code = child.exit_code()
            if code is not None:
                raise StackError(f"{child.name} exited unexpectedly (exit code {code}); stopping the stack")

    def _wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            self._check()
            if time.monotonic() > deadline:
                raise StackError(f"{what} did not become reachable within {timeout:.0f} s")
            self._stop.wait(POLL)

    # --- steps -----------------------------------------------------------------------------------------

    def _preflight(self) -> None:
        o = self.options
        o.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            for name in reap_leftovers(self.pid_file):
                self.echo(f"stopped the {name} left behind by an earlier immoflow dev")
        except RuntimeError as exc:
            raise StackError(str(exc)) from exc
        ports = {
            "--web-port": o.web_port, "--temporal-port": o.temporal_port, "--ui-port": o.ui_port,
            "--imap-port": o.imap_port,
        }  # fmt: skip
        if self.base.smtp_host is None:
            ports["--smtp-port"] = o.smtp_port
        busy = [f"{port} ({flag})" for flag, port in ports.items() if not port_free(port)]
        if busy:
            raise StackError(f"port in use: {', '.join(busy)}; choose others with the options named")
        # Created now, in the file the children read: they must all sign with the same key.
        self.settings.effective_secret_key()

    def _start_temporal(self) -> None:
        logs = self.options.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        with (logs / "temporal.log").open("ab") as log:
            self._spawn("temporal server", temporal_command(self.settings, self.options), dict(os.environ), log)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], output: IO[bytes] | None = None) -> None:
        self.children.append(spawn(name, argv, env=env, output=output))
        self._envs[name] = env
        self.pid_file.write(os.getpid(), self.children)

    def _restart_crashed(self, now: float) -> None:
        """Once running: a crashed worker or web app is started again with backoff, and the log says so."""
        for index, child in enumerate(self.children):
            code = child.exit_code()
            if code is None:
                continue
            if child.name not in RESTARTABLE:
                raise StackError(f"{child.name} exited unexpectedly (exit code {code}); stopping the stack")
            state = self._restarts.setdefault(child.name, _Restart(started_at=now))
            if state.due is None:
                state.attempts = 1 if now - state.started_at >= RESTART_STABLE_AFTER else state.attempts + 1
                delay = min(RESTART_FIRST_DELAY * 2 ** (state.attempts - 1), RESTART_MAX_DELAY)
                state.due = now + delay
                self.echo(
                    f"immoflow dev: {child.name} exited (exit code {code}); "
                    f"restarting it in {delay:.0f} s (restart {state.attempts})"
                )
            elif now >= state.due:
                stop_group([child], 0.0)  # whatever the dead leader left in its group
                self.children[index] = spawn(child.name, child.argv, env=self._envs[child.name])
                state.due, state.started_at = None, now
                self.pid_file.write(os.getpid(), self.children)
                self.echo(f"immoflow dev: {child.name} restarted (pid {self.children[index].pid})")

    async def _prepare_temporal(self) -> list[str]:
        from starter.temporal.client import connect_client
        from starter.temporal.setup import register_search_attributes

        deadline = time.monotonic() + TEMPORAL_READY_TIMEOUT
        while True:
            self._check()
            try:
                client = await asyncio.wait_for(connect_client(self.settings), 5)
                break
            except (RuntimeError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise StackError(f"Temporal did not answer within {TEMPORAL_READY_TIMEOUT:.0f} s: {exc}") from exc
                await asyncio.sleep(POLL)
        # Always through the operator service: --search-attribute is ignored on an existing database file.
        added = await register_search_attributes(client)
        from starter.temporal.schedules import sync_schedules

        await sync_schedules(client, self.settings)  # the automations' daily birthday scan
        from starter.temporal.retention_schedule import sync_retention_schedule

        await sync_retention_schedule(client, self.settings)  # the daily DSGVO retention scan
        return added

    async def _demo(self) -> bool:
        """Loads the demo into an office without users; True when the demo login exists."""
        from sqlalchemy import select

        from db.models import User
        from db.session import engine_from_settings, make_session_factory
        from starter.dev.demo import has_users, load_demo_data
        from starter.services.showcase import AGENT_EMAIL

        engine = engine_from_settings(self.settings)
        try:
            sessions = make_session_factory(engine)
            if self.options.load_demo and not await has_users(sessions):
                result = await load_demo_data(sessions)
                self.echo(f"demo data loaded ({len(result.created)} records)")
            async with sessions() as session:
                return await session.scalar(select(User.id).where(User.email == AGENT_EMAIL)) is not None
        finally:
            await engine.dispose()

    def _start_imap(self) -> ImapConfig | None:
        """The demo mailbox's IMAP server, unless there is no demo mailbox or it was configured otherwise."""
        from db.session import engine_from_settings, make_session_factory
        from starter.dev.demo import MAILBOX
        from starter.dev.mailbox import imap_command, new_password, point_demo_mailbox

        config = ImapConfig(host=LOCAL, port=self.options.imap_port, tls="none", user=MAILBOX, password=new_password())

        async def point() -> bool:
            engine = engine_from_settings(self.settings)
            try:
                return await point_demo_mailbox(make_session_factory(engine), self.settings, MAILBOX, config)
            finally:
                await engine.dispose()

        logs = self.options.data_dir / "logs"
        with (logs / "imap.log").open("ab") as log:
            self._spawn("imap server", imap_command(config.port, config.user, config.password), dict(os.environ), log)
        self._wait_until(lambda: answers(config.port), IMAP_READY_TIMEOUT, "the IMAP server")
        if not asyncio.run(point()):
            return None
        self.imap = config
        return config

    def _start_sink(self) -> int | None:
        if self.base.smtp_host is not None:
            self.echo(f"mail goes to {self.base.smtp_host}:{self.base.smtp_port} (IMMOFLOW_SMTP_HOST)")
            return None
        deliver_to: dict[str, Deliver] = {}
        if self.imap is not None:
            from starter.dev.mailbox import deliverer

            deliver_to[self.imap.user] = deliverer(self.imap)
        self.sink = SmtpSink(
            host=LOCAL, port=self.options.smtp_port, directory=self.options.data_dir / "mail", deliver_to=deliver_to
        )
        self.sink.start()
        return self.sink.port

    def _start_apps(self, sink_port: int | None) -> None:
        env = child_environment(self.base, self.options, sink_port)
        cli = [sys.executable, "-m", "starter.cli"]
        self._spawn("worker", [*cli, "worker"], env)
        self._spawn("web app", [*cli, "web", "--host", self.base.web_host, "--port", str(self.options.web_port)], env)

    def _banner(self, demo_login: bool) -> None:
        o = self.options
        web = f"http://localhost:{o.web_port}"
        lines = [
            "",
            "immoflow is running:",
            f"  web app        {web}/",
            f"  health         {web}/healthz",
            f"  Temporal UI    http://localhost:{o.ui_port}/",
            f"  workers        deployment {self.base.deployment_name}, build {self.base.build_id or DEV_BUILD_ID}"
            "   (immoflow deploy status)",
        ]
        if self.sink is not None:
            lines.append(f"  caught mail    {web}/dev/mail   (SMTP sink on {LOCAL}:{self.sink.port})")
        if self.imap is not None:
            lines.append(
                f"  office mailbox {self.imap.user} on IMAP {LOCAL}:{self.imap.port}"
                "   (try: immoflow inquiry submit --demo --via-mail)"
            )
        if demo_login:
            from starter.dev.demo import AGENT_PASSWORD
            from starter.services.showcase import AGENT_EMAIL

            lines.append(f"  demo login     {AGENT_EMAIL} / {AGENT_PASSWORD}")
        else:
            lines.append("  first admin    immoflow admin create --email … --name …  (same IMMOFLOW_DATA_DIR)")
        lines += [f"  data dir       {o.data_dir}  (Temporal log: {o.data_dir / 'logs' / 'temporal.log'})", ""]
        lines.append("Press Ctrl-C to stop.")
        self.echo("\n".join(lines))

    def _start(self) -> None:
        from db.migrate import upgrade_sync

        self._preflight()
        self._start_temporal()
        # Migrations run while the Temporal server boots.
        upgrade_sync(self.settings.effective_database_url)
        self._check()
        added = asyncio.run(self._prepare_temporal())
        if added:
            self.echo(f"registered search attributes: {', '.join(added)}")
        demo_login = asyncio.run(self._demo())
        self._check()
        self._start_imap()  # before the worker: it starts the watchers of the enabled mailboxes
        sink_port = self._start_sink()
        self._start_apps(sink_port)
        self._wait_until(lambda: answers(self.options.ui_port), TEMPORAL_READY_TIMEOUT, "the Temporal UI")
        web_host = LOCAL if self.base.web_host in ("0.0.0.0", "::", "localhost") else self.base.web_host
        self._wait_until(lambda: answers(self.options.web_port, web_host), WEB_READY_TIMEOUT, "the web app")
        self._banner(demo_login)

    def _supervise(self) -> None:
        while True:
            if self._stop.is_set():
                raise StopRequested
            self._restart_crashed(time.monotonic())
            if self.sink is not None:
                # The sink also keeps every mail in memory; the files are what /dev/mail reads.
                self.sink.received.clear()
            self._stop.wait(POLL)

    def _shutdown(self) -> None:
        apps = [c for c in self.children if c.name != "temporal server"]
        servers = [c for c in self.children if c.name == "temporal server"]
        # Worker and web first: the worker's graceful shutdown still talks to the server.
        stop_group(apps, APP_STOP_TIMEOUT)
        stop_group(servers, TEMPORAL_STOP_TIMEOUT)
        if self.sink is not None:
            self.sink.stop()
        if self.children:  # only our own: a refused second start must not delete the running stack's file
            self.pid_file.remove()

    def _run_until_stopped(self) -> int:
        try:
            self._start()
            self._supervise()
        except StopRequested:
            self.echo(f"\n{self._stop_reason or 'stop'} received: stopping immoflow …")
            return 0
        except (StackError, SettingsError) as exc:
            self.echo(f"immoflow dev: {exc}")
            return 1
        raise AssertionError("_supervise only returns by an exception")

    def run(self) -> int:
        """Blocks until stopped. 0 after Ctrl-C/SIGTERM, 1 when the stack could not start or a child died."""
        # aiosmtpd logs every connection and Alembic every plugin at INFO: noise above the URLs that matter.
        for name in ("mail.log", "alembic.runtime.plugins"):
            logging.getLogger(name).setLevel(logging.WARNING)
        with self._signals():
            try:
                code = self._run_until_stopped()
            finally:
                self._shutdown()
        self.echo("immoflow dev: all processes stopped")
        return code


def run_dev(options: DevOptions, base: Settings | None = None, echo: Echo = print) -> int:
    return DevStack(options, base, echo).run()
