"""`make bench` = `python -m benchmarks`: immoflow's figures, one per line, every ratio measured in one run.

One stack for all phases (Temporal dev server on a WAL SQLite file, production worker and web app as
processes, the BenchNoop worker, an in-process SMTP sink), so both sides of a ratio share server and run.
The dispatcher is off in the worker: the benchmarks start workflows themselves, and the dispatcher's
fallback starts would only race them.

Other suites live in their own modules with their own options and are run as child processes:
`python -m benchmarks --suite leads` (or `all`). Add a suite by adding its module to EXTRA_SUITES.
Plain `python -m benchmarks` (`make bench`) runs the inquiry suite and then the mailbox suite on a smaller
backlog (DEFAULT_MAILBOX_COUNT, printed with its figures), so its ratio and latency sit next to the others.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from benchmarks.inquiries import IDLE_QUEUE, NOOP_QUEUE, latency, stack_sessions, throughput, timer_burst
from benchmarks.inquiries import intake as intake_phase
from benchmarks.measure import machine, say
from benchmarks.scale import scale
from benchmarks.stack import ProcessStack
from benchmarks.suites import (
    DEFAULT,
    DEFAULT_MAILBOX_COUNT,
    DEFAULT_SUITES,
    EXTRA_SUITES,
    extra_suite_commands,
    runs_inquiries,
)

PHASES = ("throughput", "intake", "latency", "timers", "scale")


async def phase(name: str, run: Coroutine[Any, Any, None]) -> None:
    """A failed phase is reported as a figure line and the run goes on: the other figures still count."""
    try:
        await run
    except (AssertionError, TimeoutError, httpx.HTTPError) as exc:
        say(f"{name} phase failed", f"{type(exc).__name__}: {str(exc)[:300]}")


async def run_inquiries(args: argparse.Namespace, root: Path) -> None:
    phases = set(args.only.split(",")) if args.only else set(PHASES)
    say("machine", machine())
    env = {"IMMOFLOW_RUN_DISPATCHER": "false"}
    async with ProcessStack(root, database_url=args.database_url, extra_env=env) as stack:
        stack.start_temporal()
        stack.start_sink()
        await stack.prepare()
        stack.start_worker("worker")
        stack.start_process("noop-worker", [sys.executable, "-m", "benchmarks.noop"], IMMOFLOW_TASK_QUEUE=NOOP_QUEUE)
        # The web app first starts its inquiries on a queue nobody polls: intake alone is measured.
        stack.start_web(IMMOFLOW_TASK_QUEUE=IDLE_QUEUE)
        for name in ("worker", "noop-worker"):
            await stack.wait_worker(name)
        await stack.wait_web()
        if "throughput" in phases:
            async with stack_sessions(stack) as sessions:
                await phase("throughput", throughput(stack, sessions, args.count, args.concurrency))
        if "intake" in phases:
            await phase("intake", intake_phase(stack, args.intake_count, args.concurrency))
        stack.stop("web")
        stack.start_web()
        await stack.wait_web()
        if "latency" in phases:
            await phase("latency", latency(stack, args.latency_count))
        if "timers" in phases:
            async with stack_sessions(stack) as sessions:
                await phase("timers", timer_burst(stack, sessions, args.timer_count, args.concurrency))
        if "scale" in phases:
            await phase("scale", scale(stack, [int(n) for n in args.scale.split(",")], args.concurrency))
        say("machine after the run", machine())


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (timeout, CI) like Ctrl-C: the stack's `finally` stops every process it started.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--suite",
        choices=[DEFAULT, "inquiries", *EXTRA_SUITES, "all"],
        default=DEFAULT,
        help=f"default: inquiries, then {', '.join(DEFAULT_SUITES)} (a {DEFAULT_MAILBOX_COUNT}-mail backlog)",
    )
    parser.add_argument(
        "--mailbox-count",
        type=int,
        help=f"backlog of the mailbox suite (default {DEFAULT_MAILBOX_COUNT} in the plain run, else 1000)",
    )
    parser.add_argument("--only", help=f"comma-separated phases of the inquiry suite: {','.join(PHASES)}")
    parser.add_argument("--count", type=int, default=300, help="workflows per side of the throughput ratio")
    parser.add_argument("--intake-count", type=int, default=500, help="calls per side of the intake ratio")
    parser.add_argument("--latency-count", type=int, default=60, help="confirmations for the latency figures")
    parser.add_argument("--timer-count", type=int, default=1000, help="reminder timers due within about a minute")
    parser.add_argument("--scale", default="1000,10000", help="sleeping inquiry counts to compare")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight on both sides of a ratio")
    parser.add_argument(
        "--database-url", help="an empty, existing database (e.g. postgresql://…/bench); default: SQLite in the stack"
    )
    parser.add_argument("--keep", action="store_true", help="keep the stack directory (logs, databases)")
    args = parser.parse_args()

    if runs_inquiries(args.suite):
        root = Path(tempfile.mkdtemp(prefix="immoflow-bench-"))
        try:
            asyncio.run(run_inquiries(args, root))
        finally:
            if args.keep:
                print(f"stack directory: {root}", flush=True)
            else:
                shutil.rmtree(root, ignore_errors=True)
    for command in extra_suite_commands(args.suite, args.mailbox_count):
        subprocess.run(command, check=True)


if __name__ == "__main__":
    from starter.ops.process import exit_cleanly

    exit_cleanly(main)
