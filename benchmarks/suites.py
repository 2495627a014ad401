"""Which suites a `python -m benchmarks` run measures, and with which sizes (pure, so it is tested)."""

from __future__ import annotations

import sys

# Suites of other workflows: module name → how to run it (each a `main()` with its own arguments).
EXTRA_SUITES = {"leads": "benchmarks.leads", "mailbox": "benchmarks.mailbox"}
DEFAULT = "default"  # the plain run: the inquiry suite, then DEFAULT_SUITES' extra suites
DEFAULT_SUITES = ("mailbox",)
# The full 1,000-mail backlog plus as many POSTs takes over a minute on 2 cores; 300 gives the same ratio
# within a few percent (the rate is flat beyond ~100 mails) and keeps `make bench` reasonable.
DEFAULT_MAILBOX_COUNT = 300
DEFAULT_MAILBOX_LATENCY_COUNT = 20


def runs_inquiries(suite: str) -> bool:
    return suite in ("inquiries", DEFAULT, "all")


def extra_suite_commands(suite: str, mailbox_count: int | None = None) -> list[list[str]]:
    """The child processes SUITE runs after the inquiry suite, each a command line."""
    commands: list[list[str]] = []
    for name, module in EXTRA_SUITES.items():
        if suite not in (name, "all") and not (suite == DEFAULT and name in DEFAULT_SUITES):
            continue
        command = [sys.executable, "-m", module]
        if name == "mailbox" and (mailbox_count is not None or suite == DEFAULT):
            count = mailbox_count if mailbox_count is not None else DEFAULT_MAILBOX_COUNT
            command += ["--count", str(count)]
            if suite == DEFAULT:
                command += ["--latency-count", str(DEFAULT_MAILBOX_LATENCY_COUNT)]
        commands.append(command)
    return commands
