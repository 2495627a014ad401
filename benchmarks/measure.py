"""Small tools every benchmark here uses: one figure per line, percentiles, bounded concurrency, process RSS
and CPU time."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")


def say(name: str, value: float | int | str, unit: str = "") -> None:
    """One figure per line, `name: value unit`, flushed at once so a long run shows progress."""
    shown = f"{value:.2f}" if isinstance(value, float) else str(value)
    print(f"{name}: {shown}{' ' + unit if unit else ''}", flush=True)


def say_goal(
    name: str, value: float, *, at_least: float | None = None, below: float | None = None, unit: str = ""
) -> bool:
    """A figure next to its goal and whether this run met it: `name (goal >= 0.7, met): 0.82`."""
    if at_least is not None:
        met, goal = value >= at_least, f">= {at_least:g}"
    elif below is not None:
        met, goal = value < below, f"< {below:g}"
    else:
        raise ValueError("say_goal needs at_least or below")
    say(f"{name} (goal {goal}{' ' + unit if unit else ''}, {'met' if met else 'NOT met'})", value, unit)
    return met


def percentile(values: Iterable[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    """Resident set size of PID in MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time PID has used so far, all its threads, in seconds, from /proc (Linux)."""
    # After the command name (which may hold spaces and parentheses): state, ppid, …; utime and stime are
    # the 14th and 15th fields of the line, the 12th and 13th after the name.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds each named process spends inside the `with` block: where a ratio's time goes.

    On a machine whose cores are all busy, a rate is the inverse of the CPU its work costs; comparing the
    CPU per workflow of both sides of a ratio says which process makes the difference.
    """

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._pids = dict(pids)
        self._before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._before = {name: cpu_seconds(pid) for name, pid in self._pids.items()}
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.used = {name: cpu_seconds(pid) - self._before[name] for name, pid in self._pids.items()}

    def say_per(self, count: int, what: str) -> float:
        """One line per process, CPU milliseconds per WHAT; returns the sum over all processes."""
        for name, seconds in self.used.items():
            say(f"{name} CPU per {what}", seconds / count * 1000, "ms")
        return sum(self.used.values()) / count * 1000


async def bounded(calls: Iterable[Callable[[], Awaitable[T]]], concurrency: int) -> list[T]:
    """Run the calls with at most CONCURRENCY in flight; results in call order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str, poll: float = 0.5) -> float:
    """Poll CHECK until true; returns the monotonic time it became true."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {within:.0f} s")
        await asyncio.sleep(poll)
    return time.monotonic()


def machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
