"""`python -m starter.cli`: what the dev stack and the benchmarks spawn (the same as the `immoflow` command)."""

from starter.cli import main

main()
