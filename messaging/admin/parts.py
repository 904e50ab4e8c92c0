"""Shared messaging admin pieces: the capped paginator and the input filters."""

from __future__ import annotations

from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator


class CappedCountPaginator(Paginator):
    """COUNT(*) over millions of messages is slow on PostgreSQL: count at most CAP rows."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


class InputFilter(admin.SimpleListFilter):
    """A filter with a text box (e.g. journey id) instead of a list of every value in the table."""

    template = "admin/messaging/input_filter.html"

    def lookups(self, request, model_admin):
        return ((None, None),)  # the filter only shows when it has choices

    def choices(self, changelist):
        query = {k: v for k, v in changelist.get_filters_params().items() if k != self.parameter_name}
        yield {"query_params": query, "parameter_name": self.parameter_name, "value": self.value() or ""}

    def queryset(self, request, queryset):
        value = self.value()
        if value is None or value == "":
            return queryset
        try:
            return queryset.filter(**{self.parameter_name: int(value)})
        except (TypeError, ValueError):
            return queryset.none()


class JourneyFilter(InputFilter):
    title = "journey id"
    parameter_name = "journey_id"


class StepFilter(InputFilter):
    title = "step id"
    parameter_name = "step_id"


class ContactFilter(InputFilter):
    title = "contact id"
    parameter_name = "contact_id"
