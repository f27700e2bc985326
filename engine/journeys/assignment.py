"""Sticky random assignment: a patient's bucket from a salted hash, so the same patient always lands in the same
arm, whatever the time or the order events arrive in. Pure: only the salt and the ids decide."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.journeys.policy import GlobalHoldout

# The holdout's share is in basis points: buckets of one ten-thousandth.
BASIS_POINTS = 10_000


def bucket(salt: str, *parts: str, modulus: int) -> int:
    """A number in [0, modulus) from ``salt|part|part...``: the first 48 bits of its SHA-256, modulo ``modulus``.
    Splits draw with (salt, patient, journey, step); changing this formula moves every running patient's arm."""
    if modulus < 1:
        raise ValueError(f"modulus must be at least 1, got {modulus}")
    digest = hashlib.sha256("|".join((salt, *parts)).encode()).hexdigest()
    return int(digest[:12], 16) % modulus


def in_global_holdout(patient_id: str, holdout: GlobalHoldout) -> bool:
    """Whether the patient is in the global holdout's arm: their bucket of 10,000 falls below its share."""
    return bucket(holdout.salt, patient_id, modulus=BASIS_POINTS) < holdout.share_bp
