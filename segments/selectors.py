"""Reads for segments: the contract other apps use, and what the admin screens show."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count, QuerySet

from contacts.models import Contact
from segments.models import ContactScore, ScoreChange, ScoringRun, Segment
from segments.rules import rules_compile


def segment_contacts(*, segment: Segment, now: dt.datetime | None = None) -> QuerySet[Contact]:
    """The segment's contacts as one SQL query; relative dates are evaluated now (at call time)."""
    return Contact.objects.filter(rules_compile(segment.rules, now=now, segment_id=segment.pk))


def segment_contains(*, segment: Segment, contact_ids: Iterable[int]) -> set[int]:
    ids = list(contact_ids)
    if not ids:
        return set()
    found: set[int] = set()
    for start in range(0, len(ids), 2_000):  # keep IN lists within SQLite's parameter limit
        chunk = ids[start : start + 2_000]
        query = rules_compile(segment.rules, segment_id=segment.pk, contact_ids=chunk)
        found.update(Contact.objects.filter(query, pk__in=chunk).values_list("pk", flat=True))
    return found


def rules_preview(
    *, rules: dict, segment_id: int | None = None, sample_size: int = 10
) -> tuple[int, list[Contact]]:
    """Matching count and a sample of contacts for the rule editor (two queries)."""
    contacts = Contact.objects.filter(rules_compile(rules, segment_id=segment_id))
    sample = list(contacts.order_by("-pk")[:sample_size])
    count = len(sample) if len(sample) < sample_size else contacts.count()
    return count, sample


def scoring_run_latest() -> ScoringRun | None:
    return ScoringRun.objects.order_by("-created_at").first()


def contact_scores(*, contact_id: int) -> ContactScore | None:
    return ContactScore.objects.filter(contact_id=contact_id).first()


def contact_score_history(*, contact_id: int, limit: int = 20) -> list[ScoreChange]:
    return list(ScoreChange.objects.filter(contact_id=contact_id).order_by("-changed_at", "-pk")[:limit])


def transition_matrix(*, field: str, start: dt.datetime, end: dt.datetime) -> dict[tuple[str, str], int]:
    """How many contacts moved from value A to value B between two moments (one grouped query)."""
    rows = (
        ScoreChange.objects.filter(field=field, changed_at__gte=start, changed_at__lt=end)
        .order_by()
        .values("old", "new")
        .annotate(n=Count("pk"))
        .values_list("old", "new", "n")
    )
    return {(old, new): n for old, new, n in rows}


def contact_segments(*, contact_id: int, limit: int = 100) -> list[Segment]:
    """The segments a contact belongs to right now: one query for all segments (one boolean per segment)."""
    from django.db.models import BooleanField, ExpressionWrapper

    from segments.rules import RuleError

    segments = list(Segment.objects.order_by("name")[:limit])
    annotations = {}
    for segment in segments:
        try:
            q = rules_compile(segment.rules, segment_id=segment.pk, contact_ids=[contact_id])
        except RuleError:
            continue
        annotations[f"in_{segment.pk}"] = ExpressionWrapper(q, output_field=BooleanField())
    if not annotations:
        return []
    row = Contact.objects.filter(pk=contact_id).annotate(**annotations).values(*annotations).first()
    if row is None:
        return []
    return [s for s in segments if row.get(f"in_{s.pk}")]


def contact_story_context(contact: Contact) -> dict:
    return {
        "score": contact_scores(contact_id=contact.pk),
        "changes": contact_score_history(contact_id=contact.pk, limit=10),
        "segments": contact_segments(contact_id=contact.pk),
        "latest_run": scoring_run_latest(),
    }
