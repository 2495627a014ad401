"""The Temporal server stopped while workflows sleep, and the web app killed in the middle of intake."""

from __future__ import annotations

import asyncio

from benchmarks.stack import ProcessStack
from tests.chaos.support import (
    Inspector,
    Planned,
    assert_exactly_once,
    configure,
    confirm,
    confirm_tokens,
    plan,
    submit,
)


async def test_temporal_restart_while_workflows_sleep(stack: ProcessStack, inspector: Inspector) -> None:
    await stack.start()
    # The link stays valid for interval x (attempts + 1) = 40 s: long enough to confirm after the restart.
    await configure(stack, followup_interval="PT20S", followup_attempts=1, final_notice="none")
    planned = plan(known=6, expires=8, confirms=6)
    await submit(stack, planned)
    sleeping = [p for p in planned if p.kind != "known"]
    await inspector.wait_status(sleeping, "waiting_for_confirmation", within=60)

    stack.kill("temporal")
    # While it is gone: intake still stores (202, started later by the dispatcher), the form asks to retry.
    during = [Planned("known") for _ in range(2)]
    seen = await submit(stack, during)
    assert seen[202] == len(during), seen
    tokens = confirm_tokens(stack.mail.received)
    confirming = [p for p in planned if p.kind == "confirms"]
    assert await confirm(stack, confirming[0], tokens[str(confirming[0].inquiry_id)]) == 503
    await asyncio.sleep(3)
    stack.start_temporal()
    await stack.wait_temporal()

    for item in confirming:
        assert await confirm(stack, item, tokens[str(item.inquiry_id)]) == 200

    everything = [*planned, *during]
    await inspector.wait_final(everything, within=120)
    await assert_exactly_once(inspector, everything, attempts=1, notice="none")


async def test_web_app_killed_during_intake(stack: ProcessStack, inspector: Inspector) -> None:
    await stack.start()
    await configure(stack, followup_interval="PT4S", followup_attempts=1, final_notice="none")
    planned = plan(known=24, expires=8)
    # The submitter retries what got no answer, as a portal does: resent inquiries must stay one inquiry.
    sending = asyncio.create_task(submit(stack, planned, concurrency=4))
    while sum(p.inquiry_id is not None for p in planned) < 8:  # noqa: ASYNC110 (progress of another task)
        await asyncio.sleep(0.05)
    stack.kill("web")
    await asyncio.sleep(1)
    stack.start_web()
    await stack.wait_web()
    seen = await sending
    assert seen[0] > 0, f"the kill hit no request in flight: {seen}"

    await inspector.wait_final(planned, within=120)
    await assert_exactly_once(inspector, planned, attempts=1, notice="none")
    assert await inspector.half_written() == []
    async with stack.http() as http:
        listed = (await http.get("/api/inquiries", params={"page_size": 200})).json()
    assert listed["total"] == len(planned)
