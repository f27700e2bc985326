"""Phone numbers as hospitals write them (local, with trunk prefixes, spaces, brackets) turned into E.164.

A number without a country code is read in the source's default country (``SourceProfile.country``). A number
that cannot be a full number there (too short, too long, a local-only number without its area code) is an error,
never a guess: outreach to a wrong number reaches the wrong person. Google's libphonenumber (the ``phonenumbers``
port) knows every country's numbering plan.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

# What hospital systems write in a phone field that has no number: a required HIS field filled in to get past it.
# Read as "no phone", exactly like an empty field; anything else must be a number.
NO_NUMBER = frozenset(
    {"无", "無", "暂无", "没有", "无号码", "不详", "未知", "none", "n/a", "na", "null", "unknown", "-", "/"}
)
_ALL_ZEROS = re.compile(r"0+")


def is_no_number(text: str) -> bool:
    """True for the placeholders systems write instead of a number (无, 不详, N/A, -, 0, 00000000000)."""
    word = unicodedata.normalize("NFKC", text).strip().casefold()
    return word in NO_NUMBER or _ALL_ZEROS.fullmatch(word.replace("-", "").replace(" ", "")) is not None


class PhoneNumberError(ValueError):
    """A phone number that cannot be turned into E.164. The message never quotes the number (PHI)."""


def e164(text: str, country: str, extension: str | None = None) -> str:
    """``+8613884860701``, or ``+861012345678;ext=123`` (RFC 3966's extension) when there is one."""
    try:
        number = phonenumbers.parse(text, country)
    except NumberParseException as exc:
        raise PhoneNumberError(f"not a phone number ({_PARSE_ERRORS.get(exc.error_type, 'unreadable')})") from exc
    verdict = phonenumbers.is_possible_number_with_reason(number)
    if verdict != ValidationResult.IS_POSSIBLE:
        why = _VERDICTS.get(verdict, "not a possible number")
        raise PhoneNumberError(
            f"{why} for country code +{number.country_code} (numbers without a country code are read as "
            f"{country}, the source's default country)"
        )
    formatted = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    ext = extension or number.extension
    return f"{formatted};ext={ext}" if ext else formatted


_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "no valid country code",
    NumberParseException.NOT_A_NUMBER: "no digits that form a number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_VERDICTS = {
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
    ValidationResult.INVALID_COUNTRY_CODE: "an unknown country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "a length no number has",
}
