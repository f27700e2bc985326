"""The event store: each patient's journey state, event-sourced with the eventsourcing library on PostgreSQL."""
