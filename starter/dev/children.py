"""Child processes of `immoflow dev`: each in its own process group, stopped as a group, listed in a pid file.

Own process groups mean Ctrl-C in the terminal reaches only the dev process, which then stops the
children in order (web and worker before the Temporal server they talk to); stopping a whole group also
takes any grandchild with it. The pid file lets the next start clean up after a dev process that was
killed with SIGKILL and could not stop its children itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.poll()


def spawn(name: str, argv: Sequence[str], *, env: Mapping[str, str], output: IO[Any] | None = None) -> Child:
    """OUTPUT None: the child writes to our terminal."""
    process = subprocess.Popen(
        list(argv),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
    )
    return Child(name=name, argv=list(argv), process=process)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(pid, signum)


def stop_group(children: Sequence[Child], timeout: float) -> None:
    """SIGTERM every group, wait up to TIMEOUT for all leaders, then SIGKILL whatever is left of the groups."""
    for child in children:
        if child.exit_code() is None:
            _signal_group(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        # Also after a clean exit of the leader: a grandchild may still hold the group.
        _signal_group(child.pid, signal.SIGKILL)
        child.process.wait()


class PidFile:
    """`<data dir>/dev-pids.json`: who is running for this data dir (dev process and children, with argv)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, dev_pid: int, children: Sequence[Child]) -> None:
        data = {
            "dev": {"pid": dev_pid, "argv": _cmdline(dev_pid)},
            "children": {c.name: {"pid": c.pid, "argv": c.argv} for c in children},
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.path)

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _cmdline(pid: int) -> list[str] | None:
    """The argv of PID, or None when it is gone or the system has no /proc to tell."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def running_as(pid: int, argv: list[str] | None) -> bool:
    """True when PID is alive and still the process recorded (argv compared: pids get reused)."""
    return argv is not None and _cmdline(pid) == argv


def reap_leftovers(pid_file: PidFile, timeout: float = 10.0) -> list[str]:
    """Stop children of an earlier dev process that died without stopping them; returns their names.

    Raises RuntimeError when that earlier dev process is itself still running.
    """
    data = pid_file.read()
    if data is None:
        return []
    dev = data.get("dev") or {}
    if isinstance(dev.get("pid"), int) and dev["pid"] != os.getpid() and running_as(dev["pid"], dev.get("argv")):
        raise RuntimeError(f"immoflow dev is already running for this data dir (pid {dev['pid']})")
    stopped = []
    # Newest first, as a clean stop would: the apps before the server they talk to.
    for name, record in reversed(list((data.get("children") or {}).items())):
        pid = record.get("pid")
        if isinstance(pid, int) and running_as(pid, record.get("argv")):
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while running_as(pid, record.get("argv")) and time.monotonic() < deadline:
                time.sleep(0.1)
            _signal_group(pid, signal.SIGKILL)
            stopped.append(str(name))
    pid_file.remove()
    return stopped
