"""What a tick holds in memory for one batch: plain enrollment rows, their journeys, the version graphs.

A batch is loaded as tuples (no Enrollment, Contact or Journey model rows per contact). Step handlers
read the same attribute names as on the model (`e.id`, `e.contact_id`, `e.data`, `e.contact`,
`e.journey`, ...). `e.contact` is loaded on first use, for the whole batch in one query, so steps that
never look at the contact (waits, purchase conditions, coupons) cost no contact rows at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import connection

from journeys.models import Edge, Enrollment, Journey, Step

if TYPE_CHECKING:
    from contacts.models import Contact

# Loaded per enrollment; the columns a tick may change are the ones written back (engine_writes).
LOAD_FIELDS = (
    "id",
    "journey_id",
    "version_id",
    "contact_id",
    "step_id",
    "state",
    "due_at",
    "step_entered_at",
    "visit",
    "entered_at",
    "exited_at",
    "exit_reason",
    "holdout",
    "variant",
    "wait_reason",
    "data",
)


class BatchEnrollment:
    """One enrollment of a batch, as plain attributes (named like Enrollment's fields)."""

    __slots__ = (*LOAD_FIELDS, "batch")

    id: int
    journey_id: int
    version_id: int
    contact_id: int
    step_id: int | None
    state: str
    due_at: datetime | None
    step_entered_at: datetime
    visit: int
    entered_at: datetime
    exited_at: datetime | None
    exit_reason: str
    holdout: bool
    variant: str
    wait_reason: str
    data: dict
    batch: Batch

    @property
    def pk(self) -> int:
        return self.id

    @property
    def contact(self) -> Contact:
        return self.batch.contact(self.contact_id)

    @property
    def journey(self) -> Journey:
        return self.batch.journeys[self.journey_id]


class Batch:
    """The enrollments of one batch and what they share (journeys; contacts when a step asks)."""

    def __init__(self, rows: list[tuple]) -> None:
        self.enrollments: list[BatchEnrollment] = []
        for row in rows:
            e = BatchEnrollment()
            for name, value in zip(LOAD_FIELDS, row, strict=True):
                setattr(e, name, value)
            if e.data is None:
                e.data = {}
            e.batch = self
            self.enrollments.append(e)
        self.journeys: dict[int, Journey] = (
            Journey.objects.in_bulk({e.journey_id for e in self.enrollments}) if self.enrollments else {}
        )
        self._contacts: dict[int, Contact] | None = None

    def contact(self, contact_id: int) -> Contact:
        if self._contacts is None:  # one query for the whole batch, on the first step that needs it
            from contacts.models import Contact

            self._contacts = Contact.objects.in_bulk({e.contact_id for e in self.enrollments})
        return self._contacts[contact_id]


def claimed_rows(*, token: str) -> list[tuple]:
    """The enrollments `token` claimed (enrollments_claim), locked until commit on PostgreSQL."""
    batch = Enrollment.objects.filter(claimed_by=token).order_by("id")
    if connection.vendor == "postgresql":
        # Row locks for the whole batch: conversions, migrations and other workers wait for our
        # commit (and then see the new state) instead of racing with it.
        batch = batch.select_for_update(of=("self",))
    return list(batch.values_list(*LOAD_FIELDS))


def due_rows_lock(*, now: datetime, limit: int, ids: list[int] | None = None) -> list[tuple]:
    """PostgreSQL: take up to `limit` due enrollments by locking them (FOR UPDATE SKIP LOCKED) in the
    batch's own transaction. The lock is the claim: another worker skips these rows until we commit,
    and a crashed worker's locks go with its connection (no lease to wait for). Rows still under a
    lease taken by enrollments_claim are left to their holder."""
    from journeys.services.engine_claims import due_enrollments

    due = due_enrollments(now=now).order_by("due_at").select_for_update(skip_locked=True, of=("self",))
    if ids is not None:  # only these (after a failed batch, one at a time)
        due = due.filter(id__in=ids)
    return list(due.values_list(*LOAD_FIELDS)[:limit])


@dataclass
class Graph:
    steps: dict[int, Step]
    edges: dict[tuple[int, str], int]


class GraphCache:
    """Published versions are frozen, so their graphs are read once per tick, not per batch."""

    def __init__(self) -> None:
        self.graphs: dict[int, Graph] = {}

    def load(self, version_ids: set[int]) -> None:
        missing = version_ids - self.graphs.keys()
        if not missing:
            return
        steps = list(Step.objects.filter(version_id__in=missing))
        edges = Edge.objects.filter(version_id__in=missing).values_list(
            "version_id", "from_step_id", "branch", "to_step_id"
        )
        for version_id in missing:
            self.graphs[version_id] = Graph(steps={}, edges={})
        for step in steps:
            self.graphs[step.version_id].steps[step.id] = step
        for version_id, from_id, branch, to_id in edges:
            self.graphs[version_id].edges[(from_id, branch)] = to_id

    def step(self, version_id: int, step_id: int | None) -> Step | None:
        return self.graphs[version_id].steps.get(step_id) if step_id else None

    def next_step(self, version_id: int, step_id: int, branch: str) -> int | None:
        return self.graphs[version_id].edges.get((step_id, branch))
