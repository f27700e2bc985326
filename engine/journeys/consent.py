"""Whether a patient consents to messages of a purpose on a channel, from their choices and the policy. Pure."""

from __future__ import annotations

from engine.journeys.family_state import Relation
from engine.journeys.policy import OutreachPolicy
from engine.journeys.state import Profile


def consented(policy: OutreachPolicy, p: Profile, purpose: str, channel: str) -> bool:
    """An explicit choice for the purpose wins; care consent also covers transactional messages; otherwise the
    purpose's default (opt_out: allowed until withdrawn; opt_in: needs a grant).

    A stop word that withdraws care keeps transactional messages as they were (one configured to withdraw them
    records a transactional choice of its own): for them, care's choice is the one the stop word replaced."""
    key = f"{purpose}/{channel}"
    if key in p.consent_choices:
        return p.consent_choices[key]
    if purpose == "transactional":
        care = f"care/{channel}"
        choice = p.stopped_by_reply[care] if care in p.stopped_by_reply else p.consent_choices.get(care)
        if choice is not None:
            return choice
    return bool(getattr(policy.consent, purpose) == "opt_out")


def relative_consented(relation: Relation, purpose: str, channel: str) -> bool:
    """A relative's own choice of channels for a purpose. The patient's separate consent (the link's grant) already
    says the relative may receive it at all; on a channel, the relative receives it until they say no there (a
    form, or a stop word from their phone)."""
    return relation.channel_choices.get(f"{purpose}/{channel}", True)
