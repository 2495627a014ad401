"""Everything outside the worker that starts or talks to workflows.

- temporal/: the client with its data converter, payload codec and codec server, cluster setup,
  schedules, and the functions that start and address each workflow type;
- events/: the dispatcher that delivers domain events to workflows, with its explicit routing table;
- services/: use cases shared by the web app, the CLI and the dispatcher;
- intake/: portal inquiries (JSON, OpenImmo) stored raw first, then recorded and started once;
- cli/: the `immoflow` command; dev/: the development stack (`immoflow dev`) and demo data;
- ops/: logging, metrics and process exit.
"""
