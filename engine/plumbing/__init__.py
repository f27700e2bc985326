"""What several careloop processes share, each written once: PostgreSQL connections (connections, kept_connection),
the follower of the event store's log (log_follower), the retry policy (retry), Kafka topics (topics), where Kafka
and PostgreSQL are found (services), where 'now' comes from (clock), logs with pseudonymous patient references
(logs) and the garbage collector's setting for long-running processes (collector).

Nothing here connects at import time; the composition roots in engine/processes build what a process needs.
"""
