"""A workflow calling a non-deterministic helper imported the way workflow logic is: through the sandbox."""

from __future__ import annotations

from temporalio import workflow

from tests import sandbox_probe_logic as checked


@workflow.defn
class SandboxedProbe:
    @workflow.run
    async def run(self) -> str:
        return checked.stamp()
