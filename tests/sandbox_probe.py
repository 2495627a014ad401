"""A workflow calling a non-deterministic helper imported the way workflow logic is: through the sandbox."""

from __future__ import annotations

from temporalio import workflow

from domain import lead_clock  # workflow logic, imported through the sandbox; it imports a contract
from tests import sandbox_probe_logic as checked


@workflow.defn
class SandboxedProbe:
    @workflow.run
    async def run(self) -> str:
        return checked.stamp()


@workflow.defn
class ContractIdentityProbe:
    """Which LeadSnapshot class does workflow logic see: the host's (passed through) or a sandbox copy?"""

    @workflow.run
    async def run(self) -> int:
        return id(vars(lead_clock)["LeadSnapshot"])  # the name lead_clock imported, as its code sees it
