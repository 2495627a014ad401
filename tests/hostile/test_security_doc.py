"""Issue 17.9: docs/security.md names the test behind each control; each of them must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
# `tests/x.py::test_name` names a file; a following `::test_other` means the same file.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(test_\w+)`")


def test_every_test_the_threat_model_names_exists() -> None:
    text = DOC.read_text()
    current: Path | None = None
    named = 0
    for match in REFERENCE.finditer(text):
        if match.group(1):
            current = ROOT / match.group(1)
        assert current is not None, f"{match.group(0)} names no file"
        assert re.search(rf"^(async )?def {match.group(2)}\(", current.read_text(), re.MULTILINE), (
            f"{current.relative_to(ROOT)}::{match.group(2)} does not exist"
        )
        named += 1
    assert named >= 30


def test_every_point_of_the_issue_has_its_section() -> None:
    text = DOC.read_text()
    for heading in ("## Assets", "## Actors", *(f"(17.{n})" for n in range(1, 9))):
        assert heading in text
