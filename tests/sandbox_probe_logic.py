"""Workflow logic that breaks determinism: the sandbox must stop it (tests/test_sandbox.py)."""

from __future__ import annotations

from datetime import UTC, datetime


def stamp() -> str:
    return datetime.now(UTC).isoformat()  # the wall clock inside workflow code: forbidden
