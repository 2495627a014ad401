"""Does a hostile template preview stall the web app? `python -m benchmarks.preview_stall` (not a test).

Starts `immoflow web` as its own process (SQLite in a temporary directory, no Temporal needed), measures
the latency of an ordinary page (GET /login) alone, then again while PREVIEWS hostile previews
(`{{ 'x' * 1000000000 }}`, `{{ '%1000000000s'|format('a') }}`, doubling macros …) run CONCURRENCY at a time,
and prints one figure per line: p50/p99/max latency of both, and the web process's peak resident memory
(VmHWM from /proc) before and after. Issue 17.8: before the fix the process grew to 3 GB and other
requests waited ~5 s; now both stay where they were.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.measure import machine, percentile, say
from db.migrate import upgrade_sync
from starter.dev.config import free_port

HOSTILE = [
    "{{ 'x' * 1000000000 }}",
    "{{ '%1000000000s'|format('a') }}",
    "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('x', 40) }}",
    "{{ 'x'" + "|replace('x', 'xxxxxxxxxx')" * 9 + " }}",
]
TOKEN = "benchmark-api-token-0123456789abcdef"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def latencies(http: httpx.AsyncClient, count: int) -> list[float]:
    values: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        response = await http.get("/login")
        response.raise_for_status()
        values.append(time.perf_counter() - started)
    return values


def report(name: str, values: list[float]) -> None:
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        say(f"{name} {label}", percentile(values, fraction) * 1000, "ms")
    say(f"{name} max", max(values) * 1000, "ms")


async def run(previews: int, concurrency: int, requests: int) -> None:
    say("machine", machine())
    with tempfile.TemporaryDirectory(prefix="immoflow-preview-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        await asyncio.to_thread(upgrade_sync, url)  # alembic's env runs its own event loop
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("IMMOFLOW_")},
            "IMMOFLOW_ENV": "development",
            "IMMOFLOW_DATA_DIR": tmp,
            "IMMOFLOW_DATABASE_URL": url,
            "IMMOFLOW_API_TOKEN": TOKEN,
            "IMMOFLOW_WEB_PORT": str(port),
        }
        web = subprocess.Popen([sys.executable, "-m", "starter.cli", "web"], env=env, cwd=tmp)  # noqa: ASYNC220
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
                for _ in range(200):
                    try:
                        await http.get("/login")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                say("web peak RSS before", peak_rss_mb(web.pid), "MB")
                report("GET /login alone", await latencies(http, requests))
                gate = asyncio.Semaphore(concurrency)
                refused = 0

                async def hostile(n: int) -> None:
                    nonlocal refused
                    async with gate:
                        body = {"subject": "Betreff", "body": HOSTILE[n % len(HOSTILE)]}
                        answer = await http.post("/settings/templates/inquiry.confirmation/preview", json=body)
                        refused += not answer.json()["ok"]

                attack = asyncio.gather(*(hostile(n) for n in range(previews)))
                during = await latencies(http, requests)
                await attack
                report("GET /login during hostile previews", during)
                say("hostile previews refused", f"{refused}/{previews}")
                say("web peak RSS after", peak_rss_mb(web.pid), "MB")
        finally:
            web.terminate()
            web.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--previews", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.previews, args.concurrency, args.requests))


if __name__ == "__main__":
    main()
