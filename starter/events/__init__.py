"""Domain events from the outbox table to workflows: the dispatcher, its routing table, one module per feature.

routing.py lists every handler; a handler signals or starts a workflow by its business ID, so a
redelivered event is a no-op. An event is marked done only after its handlers succeeded.
"""
