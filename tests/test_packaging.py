"""What `pip install .` ships: every top-level package of the project (the Docker image is built that way)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_SHIPPED = {"tests", "benchmarks"}  # run from a checkout only


def test_every_top_level_package_is_installed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - NOT_SHIPPED
    assert packages, "no packages found"
    missing = {name for name in packages if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)}
    assert missing == set(), f"not in [tool.setuptools.packages.find] include: {sorted(missing)}"
