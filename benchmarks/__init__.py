"""`make bench`: throughput, intake, latency and scale figures of immoflow, measured against the real stack."""
