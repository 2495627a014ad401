"""Workflows and their contracts: deterministic code only. No I/O, no sqlalchemy, no datetime.now().

Each workflow type has its module and its contract (`*_models.py`: inputs, snapshots, signals, updates,
queries), replayed from tests/histories/. Activities are referenced as passed-through classes; the rules a
workflow applies come from domain/. Type, signal, update, query and search attribute names never change.
"""
