"""structlog JSON logs. Patients appear only as a pseudonymous reference, never by name, phone or MRN."""

from __future__ import annotations

import hashlib
import hmac
import logging

import structlog


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(format="%(message)s", level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )


def patient_ref(patient_id: str, key: bytes) -> str:
    """A stable pseudonym: the same patient always gets the same reference; it cannot be reversed without the key."""
    return "pt_" + hmac.new(key, patient_id.encode(), hashlib.sha256).hexdigest()[:16]
