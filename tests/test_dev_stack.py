"""`immoflow dev` as a developer runs it: a subprocess with its own data dir and free ports.

Started, it must turn /healthz all green and serve /dev/mail and the Temporal UI; stopped (SIGTERM) or
broken (a child killed), it must leave no process behind. "Behind" is checked two ways: the PIDs the
stack recorded, and every process on the machine whose command line or environment names the data dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from settings import venv_binary
from starter.dev.config import free_port
from workflows.shared import SEARCH_ATTRIBUTES

pytestmark = pytest.mark.timeout(400)

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 90.0
EXIT_TIMEOUT = 60.0


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    web: int
    temporal: int
    ui: int
    smtp: int
    imap: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


StartStack = Callable[..., Stack]


@pytest.fixture
def start_stack(tmp_path: Path) -> Iterator[StartStack]:
    started: list[Stack] = []
    data_dir = tmp_path / "data"

    def start(**fixed_ports: int) -> Stack:
        log = tmp_path / f"dev-{len(started)}.log"
        ports = {name: fixed_ports.get(name) or free_port() for name in ("web", "temporal", "ui", "smtp", "imap")}
        # Nothing from the developer's IMMOFLOW_* (an external SMTP server, a PostgreSQL URL) and no .env:
        # the stack runs in a directory of its own and imports immoflow through PYTHONPATH.
        env = {key: value for key, value in os.environ.items() if not key.startswith("IMMOFLOW_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "starter.cli", "dev", "--data-dir", str(data_dir)]
        for name in ("web", "temporal", "ui", "smtp", "imap"):
            command += [f"--{name}-port", str(ports[name])]
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        stack = Stack(process, data_dir, log, **ports)
        started.append(stack)
        return stack

    yield start

    # Whatever a failed test left running must not outlive it.
    for stack in started:
        if stack.process.poll() is None:
            os.killpg(stack.process.pid, signal.SIGKILL)
            stack.process.wait()
    for pid in _processes_mentioning(str(data_dir)):
        _kill(pid)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _processes_mentioning(marker: str) -> list[int]:
    """Live processes whose command line or environment contains MARKER (ours: same user, readable)."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().split(") ", 1)[1].startswith("Z"):
                continue  # a zombie holds no resources; its parent reaps it
            if needle in (entry / "cmdline").read_bytes() or needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1]
    except (OSError, IndexError):
        return False
    return not state.startswith("Z")


def _wait_healthy(stack: Stack) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT
    last: object = None
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            pytest.fail(f"immoflow dev exited with {stack.process.returncode}:\n{stack.output()}")
        try:
            response = httpx.get(f"{stack.base}/healthz", timeout=5)
            last = response.text
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)  # polling interval only; the assertion is the deadline
    pytest.fail(f"/healthz not green within {READY_TIMEOUT:.0f} s (last: {last}):\n{stack.output()}")


def _deploy_status(stack: Stack, within: float = 60) -> str:
    """`immoflow deploy status` against the stack, once the worker made its build current."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMMOFLOW_")}
    env |= {"IMMOFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{stack.temporal}", "PYTHONPATH": str(REPO)}
    deadline = time.monotonic() + within
    while True:
        found = subprocess.run(
            [sys.executable, "-m", "starter.cli", "deploy", "status"],
            cwd=stack.data_dir.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if "current: dev" in found.stdout or time.monotonic() > deadline:
            return found.stdout + found.stderr
        time.sleep(1)


def _children(stack: Stack) -> dict[str, int]:
    data = json.loads((stack.data_dir / "dev-pids.json").read_text())
    return {name: record["pid"] for name, record in data["children"].items()}


def _wait_exit(stack: Stack) -> int:
    try:
        return stack.process.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"immoflow dev still running {EXIT_TIMEOUT:.0f} s after being stopped:\n{stack.output()}")


def _assert_nothing_left(stack: Stack, children: dict[str, int]) -> None:
    survivors = {name: pid for name, pid in children.items() if _alive(pid)}
    assert survivors == {}, stack.output()
    assert _processes_mentioning(str(stack.data_dir)) == [], stack.output()
    assert not (stack.data_dir / "dev-pids.json").exists()


def test_dev_stack_runs_green_and_stops_without_leftovers(start_stack: StartStack) -> None:
    stack = start_stack()

    health = _wait_healthy(stack)
    # The demo mailbox is listed (its watcher may not have reported back yet) but not part of the verdict.
    assert health.pop("mailboxes", None) in (
        {"anfragen@immoflow.local": "ok"}, {"anfragen@immoflow.local": "waiting for the first contact"}
    )  # fmt: skip
    assert {key: health[key] for key in ("status", "database", "temporal", "smtp")} == {
        "status": "ok",
        "database": "ok",
        "temporal": "ok",
        "smtp": "ok",
    }
    assert health["needs_attention"]["total"] == 0

    # A mail through the sink shows up on /dev/mail: sink and web app share the data dir.
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "test@immoflow.local", "someone@example.com", "Sink-Probe 4711"
    mail.set_content("probe")
    with smtplib.SMTP("127.0.0.1", stack.smtp, timeout=10) as smtp:
        smtp.send_message(mail)
    listing = httpx.get(f"{stack.base}/dev/mail", timeout=10)
    assert listing.status_code == 200
    assert "Sink-Probe 4711" in listing.text
    assert httpx.get(f"{stack.base}/static/demo/w-1001.jpg", timeout=10).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{stack.ui}/", timeout=10).status_code == 200
    output = stack.output()
    assert f"http://localhost:{stack.web}/dev/mail" in output
    assert f"http://localhost:{stack.ui}/" in output
    assert "agent@immoflow.local / demo" in output

    children = _children(stack)
    assert set(children) == {"temporal server", "worker", "web app", "imap server"}
    assert all(_alive(pid) for pid in children.values())

    # A second `immoflow dev` on the same data dir refuses instead of fighting over the databases.
    intruder = start_stack()
    assert _wait_exit(intruder) == 1
    assert f"already running for this data dir (pid {stack.process.pid})" in intruder.output()
    assert all(_alive(pid) for pid in children.values())
    assert _children(stack) == children  # and it left the running stack's pid file alone

    stack.process.send_signal(signal.SIGTERM)

    assert _wait_exit(stack) == 0, stack.output()
    _assert_nothing_left(stack, children)

    # Second start on the same data dir: existing databases, attributes still there, no second demo load.
    again = start_stack()
    assert _wait_healthy(again)["status"] == "ok"
    assert "demo data loaded" not in again.output()
    listed = subprocess.run(
        [venv_binary("temporal"), "operator", "search-attribute", "list", "--address", f"127.0.0.1:{again.temporal}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for key in SEARCH_ATTRIBUTES:
        assert key.name in listed
    # The worker joined its deployment, and its build is the current one (what `immoflow deploy status` says).
    status = _deploy_status(again)
    assert "current: dev" in status and re.search(r"^dev\s+current\s", status, re.M), status

    # A worker or web app that dies (kill -9) is started again, and the log says so; the stack stays up.
    before = _children(again)
    for name in ("worker", "web app"):
        os.kill(_children(again)[name], signal.SIGKILL)
        _wait_for_output(again, f"{name} restarted")
        assert f"{name} exited (exit code -9); restarting it in" in again.output()
    after = _children(again)
    assert after["worker"] != before["worker"] and after["web app"] != before["web app"]
    assert after["temporal server"] == before["temporal server"]
    assert _wait_healthy(again)["status"] == "ok"  # the new web app answers, the new worker is connected

    # Ctrl-C (SIGINT) still stops everything, the restarted children included.
    again.process.send_signal(signal.SIGINT)
    assert _wait_exit(again) == 0, again.output()
    _assert_nothing_left(again, {**before, **{f"{name} (restarted)": pid for name, pid in after.items()}})


def _wait_for_output(stack: Stack, text: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while text not in stack.output():
        if stack.process.poll() is not None:
            pytest.fail(f"immoflow dev exited with {stack.process.returncode}:\n{stack.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} not in the log within {READY_TIMEOUT:.0f} s:\n{stack.output()}")
        time.sleep(0.2)  # polling interval only; the assertion is the deadline


def test_a_dying_temporal_server_stops_the_stack(start_stack: StartStack) -> None:
    stack = start_stack()
    _wait_healthy(stack)
    children = _children(stack)
    os.killpg(children["temporal server"], signal.SIGKILL)
    assert _wait_exit(stack) == 1
    assert "temporal server exited unexpectedly" in stack.output()
    _assert_nothing_left(stack, children)


def test_busy_port_is_refused_before_anything_starts(start_stack: StartStack) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]

        stack = start_stack(web=busy)

        assert _wait_exit(stack) == 1
    assert f"port in use: {busy} (--web-port)" in stack.output()
    assert not (stack.data_dir / "temporal.db").exists()  # refused before the Temporal server started
    assert _processes_mentioning(str(stack.data_dir)) == []


def _poll_db(stack: Stack, query: str, within: float = 60.0) -> Any:
    """A value from the stack's own SQLite database, once the stack has written it."""
    import sqlite3

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(stack.data_dir / "immoflow.db", timeout=5)) as db:
            row = db.execute(query).fetchone()
        if row is not None and row[0] is not None:
            return row[0]
        time.sleep(0.3)  # polling interval only; the assertion is the deadline
    pytest.fail(f"no result for {query!r} within {within:.0f} s:\n{stack.output()}")


def test_a_portal_mail_becomes_an_inquiry_and_the_reply_stops_it(start_stack: StartStack) -> None:
    """The loop a new user sees: portal mail -> inquiry -> confirmation mail -> reply -> the reminders stop."""
    from email import message_from_bytes, policy

    stack = start_stack()
    _wait_healthy(stack)
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMMOFLOW_")}
    env |= {"IMMOFLOW_SMTP_PORT": str(stack.smtp), "IMMOFLOW_DATA_DIR": str(stack.data_dir)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    sent = subprocess.run(
        [sys.executable, "-m", "starter.cli", "inquiry", "submit", "--demo", "--via-mail"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr + sent.stdout
    status = _poll_db(stack, "SELECT status FROM inquiries WHERE status = 'waiting_for_confirmation'")
    assert status == "waiting_for_confirmation"
    prospect = _poll_db(stack, "SELECT email FROM inquiries")
    confirmation = None
    for path in sorted((stack.data_dir / "mail").glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if prospect in str(message["To"]):
            confirmation = message
    assert confirmation is not None, stack.output()
    assert str(confirmation["Reply-To"]) == "anfragen@immoflow.local"  # so the reply reaches the mailbox
    reply = EmailMessage()
    reply["From"], reply["To"] = prospect, str(confirmation["Reply-To"])
    reply["Subject"] = "Re: " + str(confirmation["Subject"])
    reply["In-Reply-To"] = reply["References"] = str(confirmation["Message-ID"])
    reply.set_content("Danke, ich melde mich telefonisch.\n\n> " + "\n> ".join(_plain_text(confirmation).splitlines()))
    with smtplib.SMTP("127.0.0.1", stack.smtp, timeout=10) as smtp:
        smtp.send_message(reply)
    assert _poll_db(stack, "SELECT status FROM inquiries WHERE status = 'aborted'") == "aborted"
    reason = _poll_db(stack, "SELECT reason FROM inquiries")
    assert "Antwort per E-Mail" in reason
    assert _poll_db(stack, "SELECT text FROM activities WHERE kind = 'antwort'") == "Danke, ich melde mich telefonisch."
    stack.process.send_signal(signal.SIGTERM)
    assert _wait_exit(stack) == 0, stack.output()


def _plain_text(mail: Any) -> str:
    """The text part of a caught mail (immoflow's mails are multipart/alternative: text and HTML)."""
    part = mail.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""
