"""What `make bench` runs: plain `python -m benchmarks` includes the mailbox suite on a smaller backlog."""

from __future__ import annotations

import sys

import pytest

from benchmarks.measure import say_goal
from benchmarks.suites import (
    DEFAULT,
    DEFAULT_MAILBOX_COUNT,
    DEFAULT_MAILBOX_LATENCY_COUNT,
    extra_suite_commands,
    runs_inquiries,
)


def test_the_plain_run_measures_inquiries_and_the_mailbox_on_a_smaller_backlog() -> None:
    assert runs_inquiries(DEFAULT)
    assert extra_suite_commands(DEFAULT) == [
        [
            sys.executable,
            "-m",
            "benchmarks.mailbox",
            "--count",
            str(DEFAULT_MAILBOX_COUNT),
            "--latency-count",
            str(DEFAULT_MAILBOX_LATENCY_COUNT),
        ]
    ]
    assert DEFAULT_MAILBOX_COUNT < 1000  # the full backlog stays for --suite mailbox


def test_a_named_suite_runs_alone_with_its_own_defaults() -> None:
    assert not runs_inquiries("mailbox")
    assert extra_suite_commands("mailbox") == [[sys.executable, "-m", "benchmarks.mailbox"]]
    assert extra_suite_commands("inquiries") == []
    assert extra_suite_commands("mailbox", 1000) == [[sys.executable, "-m", "benchmarks.mailbox", "--count", "1000"]]
    assert [command[2] for command in extra_suite_commands("all")] == ["benchmarks.leads", "benchmarks.mailbox"]


def test_a_figure_is_printed_next_to_its_goal_and_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert say_goal("ratio", 0.82, at_least=0.7) is True
    assert say_goal("p99", 1200.0, below=1000, unit="ms") is False
    assert capsys.readouterr().out.splitlines() == [
        "ratio (goal >= 0.7, met): 0.82",
        "p99 (goal < 1000 ms, NOT met): 1200.00 ms",
    ]
    with pytest.raises(ValueError, match="at_least or below"):
        say_goal("no goal", 1.0)
