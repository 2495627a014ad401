"""Scale: how the worker's memory and the start time grow from 1,000 to 10,000 sleeping inquiry workflows.

Each inquiry runs its real first steps (checks, confirmation mail through the SMTP sink) and then sleeps
in its follow-up timer (interval two days). The worker keeps at most `max_cached_workflows` (SDK default
1,000) workflows in memory; the rest live only in Temporal, so memory should barely grow past that.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from benchmarks.inquiries import bulk_inquiries, stack_sessions, start_inquiries
from benchmarks.measure import rss_mb, say, say_goal, until
from benchmarks.stack import ProcessStack
from db.models import Inquiry

SETTLE_SECONDS = 5.0  # after the last workflow fell asleep: let the worker's queues drain before reading RSS


async def scale(stack: ProcessStack, counts: list[int], concurrency: int) -> None:
    async with stack.http() as http:
        config = (await http.get("/api/settings/inquiry-manager")).raise_for_status().json()
        config |= {"followup_interval": "P2D", "followup_attempts": 2}
        (await http.put("/api/settings/inquiry-manager", json=config)).raise_for_status()
    # A fresh worker process: the earlier phases' cache and garbage are not this phase's memory.
    stack.stop("worker")
    stack.start_worker("worker")
    await stack.wait_worker("worker")
    await asyncio.sleep(SETTLE_SECONDS)
    say("worker RSS idle", rss_mb(stack.pid("worker")), "MiB")

    client = await stack.client()
    rss: dict[int, float] = {}
    total = 0
    async with stack_sessions(stack) as sessions:
        for count in counts:
            rows = await bulk_inquiries(sessions, count - total, known=False)
            ids = [row.id for row in rows]
            began = time.monotonic()
            await start_inquiries(client, rows, stack.task_queue, concurrency)
            start_calls = time.monotonic() - began

            async def asleep(ids: list[int] = ids) -> bool:
                async with sessions() as session:
                    waiting = await session.scalar(
                        select(func.count())
                        .select_from(Inquiry)
                        .where(Inquiry.id.in_(ids), Inquiry.status == "waiting_for_confirmation")
                    )
                return waiting == len(ids)

            settled = await until(asleep, 3600, f"{count} sleeping inquiries", poll=1.0) - began
            total = count
            await asyncio.sleep(SETTLE_SECONDS)
            rss[count] = rss_mb(stack.pid("worker"))
            say(f"start calls for {len(ids)} inquiries (total {count})", start_calls, "s")
            say(f"started -> all {len(ids)} asleep (total {count})", settled, "s")
            say(f"sleeping inquiries per second (total {count})", len(ids) / settled)
            say(f"worker RSS with {count} sleeping inquiries", rss[count], "MiB")
    if len(counts) >= 2:
        low, high = counts[0], counts[-1]
        say_goal(f"worker RSS ratio {high} / {low} sleeping", rss[high] / rss[low], below=1.3)
