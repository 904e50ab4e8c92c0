"""Admin for scores, scoring runs and segments. Actions and buttons call services."""

from __future__ import annotations

import json
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import slugify

from segments.builder import RulesBuilderWidget
from segments.models import (
    ContactScore,
    LifecycleStage,
    ScoreChange,
    ScoringRun,
    Segment,
    SegmentSize,
    ValueCluster,
)
from segments.rfm import segment_map_current
from segments.rules import EXAMPLES, FIELDS, rules_errors
from segments.scoring_report import scoring_run_report
from segments.services import scoring_run_request, segment_evaluate, segment_export_rows


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows, so paging a million-row table never runs a full COUNT(*)."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return len(self.object_list.order_by().values("pk")[: self.CAP + 1])


def _static_filter(
    parameter: str, label: str, values: Callable[[], list[str]]
) -> type[admin.SimpleListFilter]:
    """A list filter with fixed choices: no SELECT DISTINCT over a million rows to build it."""

    class StaticFilter(admin.SimpleListFilter):
        title = label
        parameter_name = parameter

        def lookups(self, request, model_admin):
            return [(str(v), str(v)) for v in values()]

        def queryset(self, request, queryset):
            value = self.value()
            return queryset.filter(**{parameter: value}) if value else queryset

    StaticFilter.__name__ = f"{parameter.title().replace('_', '')}Filter"
    return StaticFilter


def _segment_names() -> list[str]:
    return list(segment_map_current().names)


def _all_tracked_values() -> list[str]:
    return _segment_names() + list(LifecycleStage.values) + list(ValueCluster.values)


def _scores() -> list[str]:
    return ["1", "2", "3", "4", "5"]


@admin.register(ContactScore)
class ContactScoreAdmin(admin.ModelAdmin):
    list_display = (
        "contact",
        "rfm_segment",
        "r_score",
        "f_score",
        "m_score",
        "lifecycle_stage",
        "clv_cluster",
        "predicted_clv_display",
        "p_alive_display",
        "frequency",
        "monetary_total",
        "last_order_at",
    )
    list_filter = (
        _static_filter("rfm_segment", "RFM segment", _segment_names),
        "lifecycle_stage",
        "clv_cluster",
        _static_filter("r_score", "R score", _scores),
        _static_filter("f_score", "F score", _scores),
        _static_filter("m_score", "M score", _scores),
    )
    list_select_related = ("contact",)
    search_fields = ("contact__email", "contact__external_id")
    show_full_result_count = False
    paginator = CappedCountPaginator
    raw_id_fields = ("contact",)
    ordering = (F("predicted_clv").desc(nulls_last=True),)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Predicted CLV", ordering="predicted_clv")
    def predicted_clv_display(self, obj: ContactScore) -> str:
        return "—" if obj.predicted_clv is None else f"{obj.predicted_clv:,.2f}"

    @admin.display(description="P(alive)", ordering="p_alive")
    def p_alive_display(self, obj: ContactScore) -> str:
        return "—" if obj.p_alive is None else f"{obj.p_alive:.0%}"


@admin.register(ScoreChange)
class ScoreChangeAdmin(admin.ModelAdmin):
    list_display = ("changed_at", "contact", "field", "old", "new", "run")
    list_select_related = ("contact", "run")
    list_filter = (
        "field",
        _static_filter("new", "new value", _all_tracked_values),
        _static_filter("old", "old value", _all_tracked_values),
    )
    show_full_result_count = False
    paginator = CappedCountPaginator
    raw_id_fields = ("contact", "run")
    date_hierarchy = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ScoringRun)
class ScoringRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "trigger",
        "status",
        "progress_display",
        "created_at",
        "duration_display",
        "contacts_scored",
        "buyers",
        "changes_recorded",
        "clv_display",
    )
    list_filter = ("status", "trigger")
    change_list_template = "admin/segments/scoringrun/change_list.html"
    change_form_template = "admin/segments/scoringrun/change_form.html"
    # The distribution and model check are drawn by the page's report, not shown as raw JSON.
    fields = readonly_fields = [
        f.name
        for f in ScoringRun._meta.fields
        if f.name not in ("id", "distribution", "model_check", "clv_fit", "phase_seconds")
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path(
                "run-now/", self.admin_site.admin_view(self.run_now_view), name="segments_scoringrun_run_now"
            ),
            *super().get_urls(),
        ]

    def run_now_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm("segments.add_scoringrun"):
            return HttpResponse(status=405 if request.method != "POST" else 403)
        run = scoring_run_request(trigger=ScoringRun.Trigger.ADMIN)
        if run is None:
            self.message_user(request, "A scoring run is already queued; it will include the latest orders.")
        else:
            self.message_user(request, f"Scoring run #{run.pk} queued. Its progress shows below.")
        return HttpResponseRedirect(reverse("admin:segments_scoringrun_changelist"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra = {**(extra_context or {}), "report": scoring_run_report(run) if run else {}}
        return super().change_view(request, object_id, form_url, extra)

    @admin.display(description="Progress")
    def progress_display(self, obj: ScoringRun) -> str:
        if obj.status == ScoringRun.Status.RUNNING:
            return format_html(
                '<progress max="100" value="{}"></progress> {}', obj.progress, obj.progress_note
            )
        return f"{obj.progress}%"

    @admin.display(description="Duration", ordering="duration_ms")
    def duration_display(self, obj: ScoringRun) -> str:
        return "—" if obj.duration_ms is None else f"{obj.duration_ms / 1000:.1f} s"

    @admin.display(description="CLV")
    def clv_display(self, obj: ScoringRun) -> str:
        if obj.clv_missing_reason:
            return format_html(
                '<span title="{}">missing: {}</span>', obj.clv_missing_reason, obj.clv_missing_reason
            )
        if obj.clv_fit:
            return "limit model (no drop-out)" if obj.clv_fit.get("model") == "nbd" else "fitted"
        return "—"


class SegmentForm(forms.ModelForm):
    rules = forms.JSONField(
        required=False,
        widget=RulesBuilderWidget(
            attrs={"rows": 18, "cols": 90, "class": "vLargeTextField", "spellcheck": "false"}
        ),
        help_text="Build the rules with the rows (groups combine them with AND / OR / NOT); the JSON is "
        "under Advanced. The preview follows.",
    )

    class Meta:
        model = Segment
        fields = ("name", "description", "rules")

    def clean_rules(self):
        rules = self.cleaned_data.get("rules") or {}
        errors = rules_errors(rules, segment_id=self.instance.pk)
        if errors:
            raise forms.ValidationError(
                [f"{where}: {message}" if where else message for where, message in errors]
            )
        return rules


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "size_display", "last_evaluated_at", "duration_display", "description")
    search_fields = ("name",)
    actions = ["evaluate_now"]
    change_form_template = "admin/segments/segment/change_form.html"
    readonly_fields = ("size", "last_evaluated_at", "last_duration_ms")

    @admin.display(description="Size", ordering="size")
    def size_display(self, obj: Segment) -> str:
        return "not evaluated yet" if obj.size is None else f"{obj.size:,}"

    @admin.display(description="Took", ordering="last_duration_ms")
    def duration_display(self, obj: Segment) -> str:
        return "—" if obj.last_duration_ms is None else f"{obj.last_duration_ms} ms"

    @admin.action(description="Evaluate now (count and record the size)", permissions=["change"])
    def evaluate_now(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        for segment in queryset:
            try:
                size = segment_evaluate(segment=segment)
            except ValueError as exc:
                self.message_user(request, f"{segment}: {exc}", level=messages.ERROR)
            else:
                self.message_user(request, f"{segment}: {size:,} contacts ({segment.last_duration_ms} ms).")

    def get_urls(self):
        return [
            path(
                "<int:segment_id>/export/",
                self.admin_site.admin_view(self.export_view),
                name="segments_segment_export",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest, segment_id: int) -> HttpResponse:
        segment = get_object_or_404(Segment, pk=segment_id)
        if not self.has_view_permission(request, segment):
            return HttpResponse(status=403)
        response = StreamingHttpResponse(segment_export_rows(segment=segment), content_type="text/csv")
        filename = slugify(segment.name) or f"segment-{segment.pk}"
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["rule_fields"] = FIELDS.values()
        context["rule_examples"] = [
            (spec, json.dumps(EXAMPLES.get(spec.name, {"field": spec.name}))) for spec in FIELDS.values()
        ]
        context["rule_example"] = json.dumps(
            {
                "op": "and",
                "rules": [
                    {"field": "rfm_segment", "operator": "in", "value": ["At Risk", "Can't Lose Them"]},
                    {"field": "reachable", "operator": "is", "value": "email"},
                    {
                        "op": "not",
                        "rules": [{"field": "email_opened", "operator": "within_last_days", "value": 30}],
                    },
                ],
            },
            indent=2,
        )
        if obj is not None:
            sizes = list(SegmentSize.objects.filter(segment=obj).order_by("-measured_at")[:60])[::-1]
            context["size_history"] = sizes
            context["size_max"] = max((s.size for s in sizes), default=0) or 1
        return super().render_change_form(request, context, add, change, form_url, obj)
