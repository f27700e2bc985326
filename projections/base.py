"""What a projection is: a name, the tables it owns, its DDL, and a pure event -> row operations mapping.

Every projection forgets an erased patient: by default ``patient.erased`` deletes the patient's rows from each of
its tables (each has a ``patient_id`` column; tests/unit/projections/test_erasure.py holds every projection to it);
one whose rows belong to two patients gives its own ``forget`` to keep the other side (projections/referrals: the
erased side becomes NULL). Either way in the same transaction as the rows and tracking of the rest of the page. The
journey core records nothing about the patient after the erasure (engine/journeys/erased.py), so nothing brings
the rows back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

from events.base import Event
from events.patient import PatientErased
from projections.ops import Delete, Op

Changes = Callable[[Event, int], Sequence[Op]]  # (event, its notification id) -> row operations


@dataclass(frozen=True, slots=True)
class Projection:
    name: str
    tables: tuple[str, ...]  # truncated by a rebuild, counted by status
    changes: Changes
    package: str  # holds schema.sql
    # The event classes (with their subclasses) ``changes`` makes operations of; None: it may use any event.
    # Events of other classes never reach ``changes``: a rebuild does not even call it for them (route()), which
    # spared most of the calls (BENCHMARKS.md, "Rebuild"). tests/unit/projections/test_reads.py holds ``changes``
    # to no operations for a sample of every other event type.
    reads: tuple[type[Event], ...] | None = None
    # The operations that forget an erased patient; None: delete the patient's rows from every table.
    forget: Callable[[PatientErased], Sequence[Op]] | None = None

    def ops(self, event: Event, seq: int) -> Sequence[Op]:
        """The row operations of one event: its own ``changes``, or deleting an erased patient's rows."""
        if isinstance(event, PatientErased):
            if self.forget is not None:
                return self.forget(event)
            return [Delete(table, {"patient_id": event.patient_id}) for table in self.tables]
        if self.reads is not None and not isinstance(event, self.reads):
            return []
        return self.changes(event, seq)

    def route(self, cls: type[Event]) -> Changes | None:
        """What gives the operations of an event of class ``cls``, the same as ``ops``: None when there are none
        whatever the event, ``changes`` itself when nothing else is decided, ``ops`` for an erasure."""
        if issubclass(cls, PatientErased):
            return self.ops
        if self.reads is not None and not issubclass(cls, self.reads):
            return None
        return self.changes

    def schema_sql(self) -> str:
        return resources.files(self.package).joinpath("schema.sql").read_text(encoding="utf-8")
