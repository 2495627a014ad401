"""Chaos scenarios run the real stack as processes: every test here is marked `chaos` and gets a long timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from benchmarks.stack import ProcessStack
from tests.chaos.support import Inspector


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/chaos/" in item.nodeid:
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.timeout(420))
            # Under pytest-xdist (`make test`): one worker runs the scenarios one after another (each is a
            # whole stack of processes) while the others take the rest of the suite.
            item.add_marker(pytest.mark.xdist_group("chaos"))


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[ProcessStack]:
    """A stack that is not started yet (scenarios choose workers, database, sink); always closed."""
    async with ProcessStack(tmp_path / "stack") as value:
        yield value


@pytest.fixture
async def inspector(stack: ProcessStack) -> AsyncIterator[Inspector]:
    value = Inspector(stack)
    try:
        yield value
    finally:
        await value.close()
