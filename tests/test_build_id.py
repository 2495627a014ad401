"""The worker's version in its deployment: build ID from settings, package version and git revision."""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
from pydantic import ValidationError

from settings import Settings
from starter.temporal import deployments
from starter.temporal.deployments import build_id, deployment_version, git_revision, worker_deployment_config


def test_version_and_revision_make_the_build_id() -> None:
    settings = Settings(git_revision="1a2b3c4d5e6f7a8b")
    assert build_id(settings) == f"{version('immoflow')}+1a2b3c4d5e6f"  # PEP 440's local part, 12 digits
    config = worker_deployment_config(settings.model_copy(update={"deployment_name": "office-a"}))
    assert config.use_worker_versioning
    assert config.version.to_canonical_string() == f"office-a.{version('immoflow')}+1a2b3c4d5e6f"


def test_an_explicit_build_id_wins() -> None:
    assert build_id(Settings(build_id="2027-01-hotfix", git_revision="1a2b3c4")) == "2027-01-hotfix"
    assert deployment_version(Settings(build_id="dev")).build_id == "dev"


def test_a_checkout_is_asked_for_its_revision() -> None:
    if not (deployments.REPO / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(deployments.REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert git_revision(Settings()) == head
    assert build_id(Settings()).endswith(f"+{head}")


def test_without_a_revision_the_version_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(deployments, "REPO", tmp_path)  # an installed package: no .git next to the code
    assert git_revision(Settings()) is None
    assert build_id(Settings()) == version("immoflow")


def test_empty_build_arguments_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Dockerfile turns an unset GIT_REVISION build argument into IMMOFLOW_GIT_REVISION="".
    monkeypatch.setenv("IMMOFLOW_GIT_REVISION", "")
    monkeypatch.setenv("IMMOFLOW_BUILD_ID", "")
    settings = Settings(_env_file=None)
    assert settings.git_revision is None and settings.build_id is None


@pytest.mark.parametrize(
    "fields",
    [
        {"deployment_name": "immoflow.prod"},  # the server splits "<deployment>.<build>" at the first dot
        {"deployment_name": ""},
        {"git_revision": "not-a-sha"},
        {"deployment_promote": "sometimes"},
    ],
)
def test_unusable_values_are_refused(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings(**fields)  # type: ignore[arg-type]
