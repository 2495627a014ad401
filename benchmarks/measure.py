"""Small tools every benchmark here uses: one figure per line, percentiles, bounded concurrency, process RSS."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def say(name: str, value: float | int | str, unit: str = "") -> None:
    """One figure per line, `name: value unit`, flushed at once so a long run shows progress."""
    shown = f"{value:.2f}" if isinstance(value, float) else str(value)
    print(f"{name}: {shown}{' ' + unit if unit else ''}", flush=True)


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
