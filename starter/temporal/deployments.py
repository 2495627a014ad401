"""Worker Versioning: which deployment version this code is, and reading and switching a deployment's routing.

Every immoflow worker joins the worker deployment `IMMOFLOW_DEPLOYMENT_NAME` with a build ID made from the
package version and the git revision. The server sends new workflows to the deployment's *current* version
(and a share to a *ramping* one); pinned workflows (inquiries, slot requests, automations) stay on the
version they started on until they end, auto-upgrading ones (leads) move to the current version on their next
task. `immoflow deploy status|promote|ramp` and the worker's own promotion at start use the functions here.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from temporalio.api.deployment.v1 import WorkerDeploymentVersion as VersionProto
from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import WorkerDeploymentConfig

from settings import Settings

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
# A new worker's version exists on the server only after its first poll reached it: seconds, not minutes.
REGISTRATION_TIMEOUT = 60.0
REGISTRATION_POLL = 0.5


class DeploymentError(RuntimeError):
    """A deployment that does not exist, a version without workers, a refused switch: the message says which."""


# --- this code's version ------------------------------------------------------------------------------------


def git_revision(settings: Settings) -> str | None:
    """The image passes its revision in; a checkout is asked directly; an sdist or wheel has none."""
    if settings.git_revision:
        return settings.git_revision[:12]
    if not (REPO / ".git").exists():
        return None
    try:
        found = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


def build_id(settings: Settings) -> str:
    """`IMMOFLOW_BUILD_ID`, else `<package version>+<git revision>` (PEP 440's local part), else the version."""
    if settings.build_id:
        return settings.build_id
    try:
        base = package_version("immoflow")
    except PackageNotFoundError:  # running from a tree that was never pip-installed
        base = "0+unknown"
    revision = git_revision(settings)
    return f"{base}+{revision}" if revision and "+" not in base else base


def deployment_version(settings: Settings) -> WorkerDeploymentVersion:
    return WorkerDeploymentVersion(deployment_name=settings.deployment_name, build_id=build_id(settings))


def worker_deployment_config(settings: Settings) -> WorkerDeploymentConfig:
    # No default behaviour on purpose: each workflow type declares its own next to its reason (workflows/).
    return WorkerDeploymentConfig(version=deployment_version(settings), use_worker_versioning=True)


# --- reading a deployment -----------------------------------------------------------------------------------

_STATUS = {
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE: "inactive",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT: "current",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING: "ramping",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING: "draining",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED: "drained",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CREATED: "created",
}


@dataclass(frozen=True)
class VersionStatus:
    build_id: str
    # inactive (never current), current, ramping, draining (pinned workflows still run on it), drained.
    status: str
    created: datetime


@dataclass(frozen=True)
class DeploymentStatus:
    name: str
    current_build_id: str | None  # None: new workflows go to unversioned workers
    ramping_build_id: str | None
    ramping_percentage: float
    versions: tuple[VersionStatus, ...]

    def version(self, build: str) -> VersionStatus | None:
        return next((v for v in self.versions if v.build_id == build), None)


def _build_of(proto: VersionProto) -> str | None:
    return proto.build_id or None


async def describe(client: Client, name: str) -> DeploymentStatus | None:
    """None while no worker of the deployment has polled yet (the server creates it on the first poll)."""
    try:
        response = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=name)
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    info = response.worker_deployment_info
    routing = info.routing_config
    versions = tuple(
        VersionStatus(
            build_id=summary.deployment_version.build_id,
            status=_STATUS.get(summary.status, "unknown"),
            created=summary.create_time.ToDatetime(),
        )
        for summary in info.version_summaries
    )
    ramping = _build_of(routing.ramping_deployment_version) if routing.HasField("ramping_deployment_version") else None
    return DeploymentStatus(
        name=info.name,
        current_build_id=_build_of(routing.current_deployment_version)
        if routing.HasField("current_deployment_version")
        else None,
        ramping_build_id=ramping,
        ramping_percentage=routing.ramping_version_percentage if ramping else 0.0,
        versions=tuple(sorted(versions, key=lambda v: v.created)),
    )


# --- switching ----------------------------------------------------------------------------------------------


def _refused(err: RPCError, what: str) -> DeploymentError:
    return DeploymentError(f"{what}: {err.message}")


async def promote(client: Client, name: str, build: str, *, identity: str) -> str | None:
    """Make BUILD the current version (also the way back: promote the previous one); returns the previous build.

    The server refuses a version none of whose workers polls (it would strand every new workflow).
    """
    try:
        response = await client.workflow_service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace, deployment_name=name, build_id=build, identity=identity
            )
        )
    except RPCError as err:
        raise _refused(err, f"cannot make {build} current in {name}") from err
    previous = response.previous_deployment_version.build_id if response.HasField("previous_deployment_version") else ""
    return previous or None


async def ramp(client: Client, name: str, build: str, percentage: float, *, identity: str) -> None:
    """Send PERCENTAGE of new workflows (and of auto-upgrading ones) to BUILD; 0 ends the ramp."""
    if not 0 <= percentage <= 100:
        raise DeploymentError(f"ramp percentage must be between 0 and 100, not {percentage}")
    request = SetWorkerDeploymentRampingVersionRequest(
        namespace=client.namespace, deployment_name=name, percentage=percentage, identity=identity
    )
    if percentage > 0:
        request.build_id = build
    try:
        await client.workflow_service.set_worker_deployment_ramping_version(request)
    except RPCError as err:
        raise _refused(err, f"cannot ramp {build} in {name}") from err


async def wait_registered(client: Client, version: WorkerDeploymentVersion, within: float) -> DeploymentStatus:
    """Until the server knows VERSION (its workers' first polls arrived)."""
    deadline = time.monotonic() + within
    while True:
        try:
            status = await describe(client, version.deployment_name)
        except RPCError as err:  # e.g. "too many requests": replicas of one build asking at the same moment
            log.info("deployment %s not readable yet: %s", version.deployment_name, err.message)
            status = None
        if status is not None and status.version(version.build_id) is not None:
            return status
        if time.monotonic() > deadline:
            raise DeploymentError(f"{version.to_canonical_string()} did not register within {within:.0f} s")
        await asyncio.sleep(REGISTRATION_POLL)


async def promote_at_start(
    client: Client, version: WorkerDeploymentVersion, policy: str, *, within: float = REGISTRATION_TIMEOUT
) -> bool:
    """The worker's IMMOFLOW_DEPLOYMENT_PROMOTE: `first` promotes only a deployment that has no current version
    (a new install, or one moving from unversioned workers), so a restart never undoes an operator's rollback.

    Replicas of one build start together: whichever promotes first wins, the others find their build current.
    """
    if policy == "never":
        return False
    deadline = time.monotonic() + within
    status = await wait_registered(client, version, within)
    while True:
        if status.current_build_id == version.build_id:
            return False
        if policy == "first" and status.current_build_id is not None:
            log.info(
                "build %s joined deployment %s; current stays %s (promote with `immoflow deploy promote %s`)",
                version.build_id,
                version.deployment_name,
                status.current_build_id,
                version.build_id,
            )
            return False
        try:
            previous = await promote(client, version.deployment_name, version.build_id, identity=client.identity)
        except DeploymentError:
            # A replica promoting at the same moment (conflict, "too many requests"), or task queues the server
            # does not know yet.
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(REGISTRATION_POLL)
            status = await wait_registered(client, version, within)
            continue
        log.info(
            "build %s is now current in deployment %s (was %s)",
            version.build_id,
            version.deployment_name,
            previous or "unversioned",
        )
        return True
