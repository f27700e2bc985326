"""The dispatcher: sends the messages the engine approved through channel gateways, exactly once per approval.

Its own process (`careloop dispatch`). It follows the event store's log into its tables (follower.py), claims
due sends and calls one channel adapter per send (sender.py, channels/), and publishes what happened back to
the engine as outreach.sent / outreach.failed through an outbox (outbox.py): three loops (loops.py), wired by
the process's composition root, engine/processes/dispatcher.py. See docs/outreach.md.
"""

APPLICATION = "careloop-dispatcher"  # the application_name of its PostgreSQL connections (pg_stat_activity)
