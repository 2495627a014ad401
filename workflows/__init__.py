"""Workflows: deterministic code only. No I/O, no sqlalchemy, no datetime.now()."""
