"""Errors of patient data protection, under one root. Messages name files, fields and key ids, never a secret, a
patient's value or a patient id (the exceptions carry the patient id as an attribute, for the caller to log as a
pseudonymous reference)."""

from __future__ import annotations


class SecurityError(Exception):
    """Root of every error engine.security raises."""


class KeyFileError(SecurityError):
    """The deployment key file is missing, too open, malformed or already there; the message says which file, what
    is wrong and what to do."""


class KeyFileMissingError(KeyFileError):
    pass


class KeyFileModeError(KeyFileError):
    pass


class KeyFileFormatError(KeyFileError):
    pass


class KeyFileExistsError(KeyFileError):
    pass


class MasterKeyError(SecurityError):
    """A wrapped data key names a master key the provider does not hold, or does not unwrap under it."""


class WeakKeyError(SecurityError):
    """A key shorter than the algorithm needs."""


class CipherError(SecurityError):
    """A sealed value cannot be revealed."""


class MalformedTokenError(CipherError):
    """The value is not in the sealed text form ``enc1:<epoch>:<base64url>``."""


class KeyEpochError(CipherError):
    """The value was sealed under another epoch of the patient's key than the one given."""


class UnreadableTokenError(CipherError):
    """AES-GCM refused the value: another key, another patient's or field's value, or altered bytes. The three look
    the same on purpose (an authentication tag says only 'not this')."""


class PatientKeyError(SecurityError):
    """About one patient's data key; ``patient_id`` says whose."""

    def __init__(self, message: str, patient_id: str) -> None:
        super().__init__(message)
        self.patient_id = patient_id


class ErasedError(PatientKeyError):
    """The patient's data key (of the value's epoch) was destroyed: what it sealed is unreadable for good."""


class RelationErasedError(ErasedError):
    """A relative's relation key was destroyed (``careloop erase P --relation REL``, or with their patient): nothing
    is sealed for that relative again. ``patient_id`` is the patient who owned it; ``relation_id`` the link."""

    def __init__(self, message: str, patient_id: str, relation_id: str) -> None:
        super().__init__(message, patient_id)
        self.relation_id = relation_id


class RelationOwnerError(PatientKeyError):
    """A relation key was asked for with a patient who does not own it (a relation id is the patient's own)."""


class UnknownPatientKeyError(PatientKeyError):
    """No data key of that epoch was ever made for the patient (another database, or a value from elsewhere)."""


class NotErasedError(PatientKeyError):
    """A new key epoch was asked for a patient whose key is still live."""


class PhiError(SecurityError):
    """An event's patient-identifying field is not in the state the operation expects."""

    def __init__(self, message: str, event_type: str, field: str) -> None:
        super().__init__(message)
        self.event_type = event_type
        self.field = field


class NotSealedError(PhiError):
    """A patient-identifying field holds a clear value where a sealed one was expected."""


class AlreadySealedError(PhiError):
    """A value to seal is already in the sealed form (sealing twice would hide it under two keys)."""


class PseudonymInputError(SecurityError):
    """An identifier cannot be turned into a pseudonym unambiguously."""


class UnclassifiedEventError(PhiError):
    """An event type engine/security/phi.py does not list: nobody decided which of its fields identify a patient."""
