"""Errors of the dispatcher, under one root. A channel adapter raises one of the two send errors; the sender
turns them into a retry later or a final failure reported to the engine."""

from __future__ import annotations


class DispatchError(Exception):
    """Root of every dispatcher error."""


class DispatchConfigurationError(DispatchError):
    """A CARELOOP_DISPATCH__ setting is missing or inconsistent; the message says which and how to fix it."""


class SendError(DispatchError):
    """A send did not happen. The message is the reason reported to the engine: it must not contain PHI."""


class RetryableSendError(SendError):
    """Worth trying again later on the same channel: a timeout, a refused connection, HTTP 429 or 5xx."""


class PermanentSendError(SendError):
    """Trying again cannot help: no address for the channel, an invalid number, HTTP 4xx, a template error."""
