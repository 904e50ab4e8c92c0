"""A paginator for changelists over tables with millions of rows.

COUNT(*) over 1M+ rows costs more than the page itself. Unfiltered lists on PostgreSQL use
the planner's row estimate; everything else counts at most CAP rows (a bounded subquery).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

CAP = 100_000


class LargeTablePaginator(Paginator):
    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not hasattr(queryset, "query"):
            return len(queryset)
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > CAP:
                return int(row[0])
        return queryset.order_by()[:CAP].count()
