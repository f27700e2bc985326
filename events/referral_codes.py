"""Referral codes: the short code a loyalty member gives a friend, derived from the member's patient id.

``referral_code(patient_id)`` is 12 Crockford base32 symbols (60 bits) of
``sha256(b"careloop-referral/v1:" + patient_id)``, printed in groups of four (``K7QM-2XRP-9D4T``). It is pure, so
``loyalty.enrolled`` records it and any component can recompute it; the referrer is found through the
``referral_codes`` read model, never by reversing the hash. A code is a pseudonym of the referrer's id: it never
appears in logs or analytics.
"""

from __future__ import annotations

import hashlib

# Crockford's alphabet: digits and upper-case letters without I, L, O (read as 1, 1, 0) and U (refused).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SYMBOLS = 12
GROUP = 4
_PREFIX = b"careloop-referral/v1:"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", "- ")


def referral_code(patient_id: str) -> str:
    """The printed referral code of ``patient_id``, e.g. ``K7QM-2XRP-9D4T``."""
    digest = hashlib.sha256(_PREFIX + patient_id.encode("utf-8")).digest()
    bits = int.from_bytes(digest[:8]) >> (64 - 5 * SYMBOLS)
    symbols = "".join(ALPHABET[(bits >> (5 * (SYMBOLS - 1 - i))) & 31] for i in range(SYMBOLS))
    return _printed(symbols)


def normalise_code(text: str) -> str | None:
    """The printed form of a code as someone typed it, or None when it is not a code.

    Upper case, hyphens and spaces removed, O read as 0 and I/L as 1 (Crockford's rule for what people misread);
    U, any other symbol, non-ASCII text (no guessing at full-width forms) or a length other than 12 is not a code.
    """
    if not text.isascii():
        return None
    symbols = text.upper().translate(_IGNORED).translate(_READ_AS)
    if len(symbols) != SYMBOLS or any(symbol not in ALPHABET for symbol in symbols):
        return None
    return _printed(symbols)


def _printed(symbols: str) -> str:
    return "-".join(symbols[i : i + GROUP] for i in range(0, SYMBOLS, GROUP))
