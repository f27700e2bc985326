"""The faust worker: clinical events and timer ticks in, patient aggregates and timers out."""

APPLICATION = "careloop-worker"  # the application_name of the worker's PostgreSQL connections (pg_stat_activity)
