"""Contract suites shared by a port's in-memory implementation (tests/unit) and its real adapter
(tests/integration): one scenario, run on both by subclassing, as eventsourcing's examples run on memory and
PostgreSQL."""
