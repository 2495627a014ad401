"""The yardstick: a workflow that runs N no-op activities, and a worker process for it.

`python -m benchmarks.noop` serves IMMOFLOW_TASK_QUEUE with the same SDK defaults and data converter as
the production worker, so a ratio against it measures what immoflow's own code costs, not Temporal's.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker

NOOP_WORKFLOW = "BenchNoop"


@activity.defn(name="bench_noop")
async def noop() -> None:
    return None


@workflow.defn(name=NOOP_WORKFLOW)
class NoopWorkflow:
    @workflow.run
    async def run(self, activities: int) -> int:
        for _ in range(activities):
            await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
        return activities


async def serve() -> None:
    from settings import get_settings
    from starter.temporal.client import connect_client

    settings = get_settings()
    client = await connect_client(settings)
    worker = Worker(client, task_queue=settings.task_queue, workflows=[NoopWorkflow], activities=[noop])
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with worker:
        # The same line the production worker logs: benchmarks.stack waits for it.
        logging.getLogger("benchmarks.noop").info("worker running on task queue %s", settings.task_queue)
        await stop.wait()


def main() -> None:
    from starter.ops.process import exit_cleanly

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    exit_cleanly(lambda: asyncio.run(serve()))


if __name__ == "__main__":
    main()
