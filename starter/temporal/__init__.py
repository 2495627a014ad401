"""Temporal from outside the worker: client and data converter, payload codec and codec server, cluster setup,
schedules, recorded histories, and the one place each workflow type is started and addressed from."""
