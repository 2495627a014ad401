"""What operators read: structured logs, Prometheus metrics, and a process exit that survives the SDK's threads."""
