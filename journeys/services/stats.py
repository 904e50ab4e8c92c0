"""The per-journey counts rollup (JourneyStat): one grouped INSERT ... SELECT over enrollments.

Refreshed for the journeys a tick touched (end of journeys_tick) and for all journeys by beat every
minute (conversions, migrations and archiving change counts too), so the journey list and page read a
few rollup rows instead of counting every enrollment on each view."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from journeys.models import Enrollment, JourneyStat

REFRESH_LOCK_KEY = 7_301_001  # pg_advisory_xact_lock key of the JourneyStat refresh


def journey_stats_refresh(*, journey_ids: Iterable[int] | None = None) -> None:
    """Recount enrollments (and converted ones) by journey, state, variant and holdout and replace the
    rollup rows of those journeys (all journeys by default): two statements in one transaction."""
    enrollments = Enrollment.objects.all()
    stats = JourneyStat.objects.all()
    if journey_ids is not None:
        ids = sorted(set(journey_ids))
        if not ids:
            return
        enrollments = enrollments.filter(journey_id__in=ids)
        stats = stats.filter(journey_id__in=ids)
    grouped = (
        enrollments.order_by()
        .values("journey_id", "state", "variant", "holdout")
        .annotate(enrolled=Count("id"), converted=Count("id", filter=Q(conversions__isnull=False)))
    )
    select_sql, select_params = grouped.query.sql_with_params()
    refreshed_at = JourneyStat._meta.get_field("refreshed_at").get_db_prep_value(
        timezone.now(), connection, prepared=False
    )
    qn = connection.ops.quote_name
    columns = ("journey_id", "state", "variant", "holdout", "enrolled", "converted")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One refresh at a time: two concurrent ticks would each delete (seeing none of the other's
            # new rows) and both insert, breaking journeystat_one_row_per_group. SQLite writers are
            # serialised already (IMMEDIATE transactions).
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])
        stats._raw_delete(stats.db)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {qn(JourneyStat._meta.db_table)} ({', '.join(qn(c) for c in columns)}, "
                f"{qn('refreshed_at')}) SELECT g.*, %s FROM ({select_sql}) g",
                [refreshed_at, *select_params],
            )
