"""Workers as `immoflow worker` runs them against a real Temporal server: in a worker deployment, build current.

A real server refuses a workflow's declared versioning behaviour (PINNED, AUTO_UPGRADE) from an unversioned
worker, so every test on a dev server runs its worker this way; the time-skipping server ignores versioning.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig

from starter.temporal.deployments import promote_at_start


def deployment_config(deployment: str | None = None, build: str = "test") -> WorkerDeploymentConfig:
    name = deployment or f"test-{uuid.uuid4().hex[:12]}"  # one per test: no test sees another's routing
    return WorkerDeploymentConfig(version=WorkerDeploymentVersion(name, build), use_worker_versioning=True)


@asynccontextmanager
async def versioned_worker(
    client: Client, *, deployment: WorkerDeploymentConfig | None = None, promote: str = "always", **kwargs: Any
) -> AsyncIterator[Worker]:
    """KWARGS as for Worker; the build is made current (PROMOTE, as IMMOFLOW_DEPLOYMENT_PROMOTE) once it polls."""
    config = deployment or deployment_config()
    async with Worker(client, deployment_config=config, **kwargs) as worker:
        await promote_at_start(client, config.version, promote)
        yield worker
