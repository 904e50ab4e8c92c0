"""Reads for segments: the contract other apps use, and what the admin screens show."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from contacts.models import Contact
from segments.models import ContactScore, ScoreChange, ScoringRun, Segment
from segments.rules import rules_compile, rules_counted


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
    count = len(sample) if len(sample) < sample_size else rules_counted(rules, segment_id=segment_id).count()
    return count, sample


class QueryTooSlow(Exception):
    """A query ran past its time limit and was cancelled by the database."""


@contextlib.contextmanager
def query_time_limit(milliseconds: int) -> Iterator[None]:
    """Cancel the queries of the block once they run longer than `milliseconds` (raises QueryTooSlow).

    PostgreSQL: `SET LOCAL statement_timeout` in a transaction (or savepoint) of its own, so the server
    stops the query. SQLite: a progress handler interrupts the statement. Either way nothing keeps
    running after the block gives up."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        deadline = time.monotonic() + milliseconds / 1000
        raw = connection.connection
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield  # an interrupted SQLite statement leaves the transaction usable: no savepoint needed
        except OperationalError as exc:
            if "interrupted" in str(exc):
                raise QueryTooSlow from exc
            raise
        finally:
            raw.set_progress_handler(None, 0)
        return
    nested = connection.in_atomic_block  # inside a caller's transaction our savepoint's SET LOCAL
    try:  # would outlive the block (RELEASE keeps it): put the default back before leaving
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout = %s", [int(milliseconds)])
            yield
            if nested and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout = DEFAULT")
    except OperationalError as exc:
        if "statement timeout" in str(exc) or "canceling statement" in str(exc):
            raise QueryTooSlow from exc
        raise


@dataclass(frozen=True)
class CountEstimate:
    """What the preview shows while the exact count is on its way: "about N"."""

    value: int
    source: str  # "cached" (an earlier exact count), "segment" (the saved segment's size), "planner"
    measured_at: dt.datetime | None = None


def _rules_key(rules: object, segment_id: int | None) -> str:
    canonical = json.dumps(rules, sort_keys=True, separators=(",", ":"))
    return "segments:count:" + hashlib.sha256(f"{segment_id}:{canonical}".encode()).hexdigest()[:32]


def rules_count_remember(*, rules: object, segment_id: int | None, count: int) -> None:
    """Keep an exact count for a day, so the next preview of the same rules can say "about N"."""
    cache.set(_rules_key(rules, segment_id), (count, timezone.now()), 24 * 3600)


def rules_count_estimate(*, rules: object, segment_id: int | None = None) -> CountEstimate | None:
    """A quick stand-in for a slow count: an earlier exact count of the same rules (with its age), the
    saved segment's size if the rules are unchanged, or PostgreSQL's planner estimate. At most one query."""
    remembered = cache.get(_rules_key(rules, segment_id))
    if remembered:
        return CountEstimate(value=remembered[0], source="cached", measured_at=remembered[1])
    if segment_id is not None:
        saved = Segment.objects.filter(pk=segment_id).values("rules", "size", "last_evaluated_at").first()
        if saved and saved["size"] is not None and saved["rules"] == rules:
            return CountEstimate(
                value=saved["size"], source="segment", measured_at=saved["last_evaluated_at"]
            )
    if connection.vendor != "postgresql":
        return None
    query = Contact.objects.filter(rules_compile(rules, segment_id=segment_id)).values("pk").query
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return CountEstimate(value=int(plan[0]["Plan"]["Plan Rows"]), source="planner")


def rules_count_within(*, rules: object, segment_id: int | None, milliseconds: int) -> int | None:
    """The exact count if the database finds it within the time limit, else None (the query is stopped).
    An exact count is remembered for rules_count_estimate."""
    if milliseconds <= 0:  # a zero budget: never count inline
        return None
    counted = rules_counted(rules, segment_id=segment_id)
    try:
        with query_time_limit(milliseconds):
            count = counted.count()
    except QueryTooSlow:
        return None
    rules_count_remember(rules=rules, segment_id=segment_id, count=count)
    return count


def rules_sample(
    *, rules: object, segment_id: int | None, size: int = 10, milliseconds: int
) -> list[Contact]:
    """The newest matching contacts, or [] when even the sample takes longer than the time limit."""
    if milliseconds <= 0:
        return None
    contacts = Contact.objects.filter(rules_compile(rules, segment_id=segment_id))
    try:
        with query_time_limit(milliseconds):
            return list(contacts.order_by("-pk")[:size])
    except QueryTooSlow:
        return None


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
