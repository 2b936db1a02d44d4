"""Faults survived: the local cluster driven end to end, and tests that inject one fault each
(Redis restarted, PostgreSQL connections dropped, a worker or a daphne process killed). docs/deployment.md."""
