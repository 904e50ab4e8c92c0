"""Journey versions, enrollments (with "explain") and conversions in the admin."""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from journeys.models import (
    Conversion,
    Enrollment,
    Step,
)
from journeys.selectors import (
    enrollment_explain,
)

CAPPED_COUNT = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most CAPPED_COUNT + 1 rows (SELECT COUNT(*) FROM (... LIMIT n)): cheap on millions."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: CAPPED_COUNT + 1].count()


# --- Enrollments, explain --------------------------------------------------------------------


class StepFilter(admin.SimpleListFilter):
    """Steps of the journey chosen in the journey filter (so the list stays short)."""

    title = "step"
    parameter_name = "step"

    def lookups(self, request, model_admin):
        journey_id = request.GET.get("journey__id__exact")
        if not journey_id:
            return []
        steps = Step.objects.filter(journey_id=journey_id, version__isnull=False).select_related("version")
        return [(s.pk, f"v{s.version.number}: {s}") for s in steps]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(step_id=self.value())
        return queryset


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "contact",
        "journey",
        "version_number",
        "step",
        "state",
        "due_at",
        "entered_at",
        "explain",
    ]
    list_filter = ["journey", "state", StepFilter, "holdout"]
    list_select_related = ["contact", "journey", "version", "step"]
    raw_id_fields = ["contact"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50  # 100 rows of nine columns took 300+ ms to render on a busy 2-core machine
    search_fields = ["=contact__email", "=contact__external_id"]
    readonly_fields = [f.name for f in Enrollment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="version", ordering="version__number")
    def version_number(self, obj):
        return obj.version.number

    @admin.display(description="why?")
    def explain(self, obj):
        return format_html(
            '<a href="{}">explain</a>', reverse("admin:journeys_enrollment_explain", args=[obj.pk])
        )

    def get_urls(self):
        return [
            path(
                "<int:enrollment_id>/explain/",
                self.admin_site.admin_view(self.explain_view),
                name="journeys_enrollment_explain",
            ),
            *super().get_urls(),
        ]

    def explain_view(self, request, enrollment_id: int):
        get_object_or_404(Enrollment, pk=enrollment_id)
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        explanation = enrollment_explain(enrollment_id=enrollment_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Why is {explanation.enrollment.contact} here?",
            "x": explanation,
        }
        return TemplateResponse(request, "admin/journeys/enrollment_explain.html", context)


@admin.register(Conversion)
class ConversionAdmin(admin.ModelAdmin):
    list_display = ["order", "journey", "enrollment", "revenue", "variant", "holdout", "converted_at"]
    list_filter = ["journey", "holdout", "variant"]
    list_select_related = ["order", "journey", "enrollment"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = [f.name for f in Conversion._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
