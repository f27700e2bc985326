"""The household of a family doctor contract (家庭医生签约, issue 18 design §2.4) as events carry it: a keyed
pseudonym of the signing system's household number, never the number itself.

A household number (家庭编号, often the 户籍 or health-archive household code) is shared by every member and
read beside their names in the signing system, so it identifies a family. As relation ids do
(connectors/relations.py), it is turned into a blind index under the deployment's index key, scoped by the source
system that issued it: every member's row of one export gets the same ``household_id``, a re-import the same again,
and nobody without the key can go back from the id to the number. Pure: the key comes with the identity port.
"""

from __future__ import annotations

import unicodedata

from connectors.base import PatientIdentity
from engine.security.pseudonyms import Pseudonyms

HOUSEHOLD_PREFIX = "hh-"


class HouseholdIdError(ValueError):
    """This intake has no index key to name a household with (the number is never used as it is)."""


def household_id(identity: PatientIdentity, source_system: str, number: str) -> str:
    """The pseudonymous household id of ``number`` as ``source_system`` writes it (full-width digits and case
    do not count: the same household exported twice is one household)."""
    pseudonyms = getattr(identity, "pseudonyms", None)
    if not isinstance(pseudonyms, Pseudonyms):
        raise HouseholdIdError("this intake has no index key to make a pseudonymous household id with")
    normal = unicodedata.normalize("NFKC", number).strip().casefold()
    return HOUSEHOLD_PREFIX + pseudonyms.blind_index(f"careloop:household:{source_system}", normal)[:24]
