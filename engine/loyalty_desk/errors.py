"""The desk's errors, under one root. Each names the field it is about (a 422's ``field``) and never quotes a patient
id or free text."""

from __future__ import annotations


class DeskError(Exception):
    """Something the desk refuses or cannot do."""


class InvalidRequestError(DeskError):
    """A request that is not one (a 422, exit 1): nothing was published."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownRewardError(InvalidRequestError):
    """A reward the loaded journeys file does not have, with the closest one it has."""

    def __init__(self, reward: str, closest: str | None, known: list[str]) -> None:
        hint = f"did you mean {closest!r}?" if closest else f"the rewards are {', '.join(known) or 'none'};"
        super().__init__("reward", f"unknown reward {reward!r}: {hint} nothing was sent")
        self.reward = reward
        self.closest = closest


class NotMemberError(DeskError):
    """The patient is not a member (a 404): no read model row, so nothing was published or read."""

    def __init__(self) -> None:
        super().__init__("not a member of the loyalty programme (or not yet projected: `careloop projections status`)")


class NoProgrammeError(DeskError):
    """The journeys file has no `loyalty:` section: no reward can be checked or redeemed."""


class RefInUseError(InvalidRequestError):
    """The caller's ref already names a request about another member (the request ids would be the same)."""

    def __init__(self) -> None:
        super().__init__("ref", "this ref already names a request about another member: use a ref of its own")


class UnavailableError(DeskError):
    """The database or the broker did not answer (a 503): sending the same request again is safe."""


class TrailError(DeskError):
    """The read could not be recorded in the audit trail, so nothing is shown (the login may not write it)."""
