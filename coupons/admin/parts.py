"""Shared coupon admin pieces: capped paginator, CSV streaming, stock messages and filters."""

from __future__ import annotations

import csv

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from coupons import selectors
from coupons.models import CouponPool

# Above this many codes, generation runs in the background (Celery).

GENERATE_INLINE_MAX = 100_000


class CappedPaginator(Paginator):
    """Counts at most CAP rows, so a changelist over millions of codes stays cheap."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.values("pk")[: self.CAP].count()


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_streaming_response(rows, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _may_view_contacts(request) -> bool:
    return request.user.has_perm("contacts.view_contact") or request.user.has_perm("contacts.change_contact")


def _codes_link(pool: CouponPool, count: int, state: str) -> str:
    url = reverse("admin:coupons_coupon_changelist") + f"?pool__id__exact={pool.pk}&state={state}"
    return format_html('<a href="{}">{}</a>', url, f"{count:,}")


def _stock_message(request, pool: CouponPool) -> None:
    if not pool.is_active:
        return
    state = selectors.stock_state(pool)
    if state == "exhausted":
        messages.warning(
            request, f"Pool '{pool.name}' is out of codes: contacts get no code until you add some."
        )
    elif state == "low":
        messages.warning(request, f"Pool '{pool.name}' is running low: {pool.available_codes:,} codes left.")


class AssignmentFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("available", "Available"), ("assigned", "Assigned"), ("redeemed", "Redeemed")]

    def queryset(self, request, queryset):
        if self.value() == "available":
            return queryset.filter(assigned_at__isnull=True, redeemed_at__isnull=True)
        if self.value() == "assigned":
            return queryset.filter(assigned_at__isnull=False)
        if self.value() == "redeemed":
            return queryset.filter(redeemed_at__isnull=False)
        return queryset
