"""explain's family lines: the patient's relatives by role and a short link reference (never a name: it is sealed
under the relation's key), what the patient consented to let each receive, each withdrawal and ending, and whom each
message went to or skipped and why (naming the consent event). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from events import journey as jo
from events import outreach as ou
from events import relationships as rs
from events.base import Event

_CHANNELS = ("sms", "wechat", "email", "app", "phone")  # what a relative's consent on channel "all" covers
FAMILY_TYPES = (
    "relationship.recorded",
    "relationship.ended",
    "relationship.consent_granted",
    "relationship.consent_withdrawn",
    "relationship.linked",
    "relationship.erased",
    "relationship.refused",
)


def ref(relation_id: str | None) -> str:
    """A link as explain names it: short enough to read, the full id is in the events. The intakes' ids all start
    with ``rel-`` (connectors/relations.py), so the four characters shown are the ones after it."""
    return f"rel {(relation_id or '').removeprefix('rel-')[:4]}"


@dataclass
class Roles:
    """The role of each link, as recorded: consent events name the link only."""

    by_relation: dict[str, str] = field(default_factory=dict)
    # "relation_id/purpose/channel" -> the event by which the relative refused that channel (their own choice)
    refused: dict[str, str] = field(default_factory=dict)

    def who(self, relation_id: str | None, role: str | None = None) -> str:
        if relation_id is None:
            return "the patient"
        return f"{role or self.by_relation.get(relation_id, 'relative')} ({ref(relation_id)})"

    def line(self, e: Event) -> str | None:
        """The patient section's line for a family event, or None when ``e`` is none."""
        if isinstance(e, rs.RelationshipRecorded):
            self.by_relation[e.relation_id] = e.role
            legal = ", legal guardian" if e.legal_guardian else ""
            linked = ", a patient too" if e.related_patient_id else ""
            return f"relative recorded: {self.who(e.relation_id)}{legal}{linked}: receives nothing without consent"
        if isinstance(e, rs.RelationshipConsentGranted):
            scope = _scope(e.purposes, e.information)
            expires = f", until {e.expires_on.isoformat()}" if e.expires_on else ""
            return (
                f"consent granted by the {e.granted_by} for {self.who(e.relation_id)} to receive {scope}"
                f" ({e.delivery} the patient{expires}; relationship.consent_granted {e.event_id})"
            )
        if isinstance(e, rs.RelationshipConsentWithdrawn):
            scope = _scope(e.purposes, e.information or ("every kind of information",))
            who = self.who(e.relation_id)
            return f"consent withdrawn for {who}: {scope} (relationship.consent_withdrawn {e.event_id})"
        return self._ending(e)

    def _ending(self, e: Event) -> str | None:
        if isinstance(e, rs.RelationshipEnded):
            return f"link to {self.who(e.relation_id)} ended ({e.reason}): nothing more is sent to them"
        if isinstance(e, rs.RelationshipErased):
            return (
                f"{self.who(e.relation_id)} erased ({e.reason}): the link ends, what was not sent to them is withdrawn"
            )
        if isinstance(e, rs.RelationshipLinked):
            return f"recorded as the {e.role} of another patient ({ref(e.relation_id)})"
        if isinstance(e, rs.RelationshipRefused):
            return f"relative {ref(e.relation_id)} not kept: {e.reason.replace('_', ' ')}"
        if isinstance(e, ou.ConsentGranted | ou.ConsentWithdrawn) and e.relation_id is not None:
            verb = "granted" if isinstance(e, ou.ConsentGranted) else "withdrew"
            self._choose(e.relation_id, (e.purpose,), _CHANNELS if e.channel == "all" else (e.channel,), e)
            return f"{self.who(e.relation_id)} {verb} {e.channel} for {e.purpose} (their own channel)"
        if isinstance(e, jo.ConsentWithdrawnByReply | jo.ConsentGrantedByReply) and e.relation_id is not None:
            verb = "withdrew" if isinstance(e, jo.ConsentWithdrawnByReply) else "granted"
            self._choose(e.relation_id, e.purposes, (e.channel,), e)
            return (
                f"{self.who(e.relation_id)} {verb} {e.channel} for {' and '.join(e.purposes)} by replying "
                f"{e.keyword!r} to their copy (their own channel; {e.type} {e.event_id})"
            )
        return None

    def _choose(self, relation_id: str, purposes: Iterable[str], channels: Iterable[str], e: Event) -> None:
        keys = [f"{relation_id}/{p}/{c}" for p in purposes for c in channels]
        withdrawn = isinstance(e, ou.ConsentWithdrawn | jo.ConsentWithdrawnByReply)
        for key in keys:
            if withdrawn:
                self.refused[key] = f"{e.type} {e.event_id}"
            else:
                self.refused.pop(key, None)

    def refusals(self, relation_id: str, category: str, channels: Iterable[str]) -> str | None:
        """Which of the relative's own withdrawals kept a message of ``category`` off ``channels``, if any."""
        found = [f"{c} ({self.refused[k]})" for c in channels if (k := f"{relation_id}/{category}/{c}") in self.refused]
        return f"{self.who(relation_id)} withdrew {category} on {', '.join(found)}" if found else None

    def routed(self, e: jo.MessageRouted) -> str:
        to = ", ".join(self.who(r.relation_id, r.role) for r in e.recipients) or "nobody"
        skipped = "".join(f"; not to {self.who(s.relation_id, s.role)}: {s.why}" for s in e.skipped)
        return f"step {e.step_id}: message to {to}{skipped}"


def _scope(purposes: tuple[str, ...], information: tuple[str, ...]) -> str:
    return f"{' and '.join(purposes)} for {', '.join(information)}"
