"""Errors of the journey core, under one root (a journeys file that does not load: engine.language.errors)."""

from __future__ import annotations


class JourneyError(Exception):
    """Root of every journey-definition and journey-engine error."""


class UnknownJourneyError(JourneyError):
    """An instance or a start step names a journey (or version) the catalog does not hold."""
