"""Errors of the projections package, under one root."""

from __future__ import annotations


class ProjectionError(Exception):
    """Root of every projections error."""


class UndecodableNotificationError(ProjectionError):
    """A stored event that is not a valid careloop event: the runner stops rather than skip it silently."""

    def __init__(self, notification_id: int, problem: str) -> None:
        super().__init__(
            f"notification {notification_id} does not hold a valid careloop event ({problem}); add an upcaster "
            "for it in events/upcasting.py, then run the projections again"
        )
        self.notification_id = notification_id


class UnknownProjectionError(ProjectionError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"there is no projection {name!r}; the projections are: {', '.join(known)}")
        self.name = name
