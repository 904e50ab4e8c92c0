"""Journeys in the admin: an interface; every change goes through journeys.services."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from audit.services import audit_record
from journeys.forms import OccupiedStep, StepMappingForm, VersionsForm
from journeys.models import (
    AudienceExport,
    AuditLog,
    Conversion,
    Edge,
    Enrollment,
    EntryRun,
    Journey,
    JourneyVersion,
    Step,
    Survey,
    SurveyQuestion,
)
from journeys.playbooks.views import journeys_export
from journeys.selectors import (
    enrollment_explain,
    journey_in_flight_counts,
    journey_in_flight_expression,
    journey_stats,
)
from journeys.services import (
    journey_archive,
    journey_delete,
    journey_migrate,
    journey_pause,
    journey_publish,
    journey_resume,
)
from journeys.steps import KIND_CHOICES, registry
from journeys.steps.base import step_names_fetch

CAPPED_COUNT = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most CAPPED_COUNT + 1 rows (SELECT COUNT(*) FROM (... LIMIT n)): cheap on millions."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: CAPPED_COUNT + 1].count()


# --- Journey and its draft graph -------------------------------------------------------------


class StepForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=KIND_CHOICES)

    class Meta:
        model = Step
        fields = ["name", "kind", "config", "x", "y", "key"]

    def clean(self):
        cleaned = super().clean()
        kind = registry.get(cleaned.get("kind") or "")
        if kind is not None and "config" in cleaned:
            try:
                cleaned["config"] = kind.validate(cleaned["config"] or {})
            except ValidationError as exc:
                raise ValidationError({"config": exc.messages}) from None
        return cleaned


class DraftInlineMixin:
    """Inlines edit the draft graph only (version NULL); published versions are frozen."""

    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(version__isnull=True)


class StepInline(DraftInlineMixin, admin.TabularInline):
    model = Step
    form = StepForm
    fields = ["name", "kind", "config", "x", "y", "key"]
    # The key is internal (maps contacts between versions). Read-only, so each new row gets its own
    # generated key; as a form field, "Add another" copied one default key into every new row.
    readonly_fields = ["key"]
    verbose_name = "step (draft)"
    verbose_name_plural = "Steps of the draft (publish to freeze a new version)"


class EdgeInline(DraftInlineMixin, admin.TabularInline):
    model = Edge
    fields = ["from_step", "branch", "to_step"]
    verbose_name = "edge (draft)"
    verbose_name_plural = "Edges of the draft: from a step along a branch (next, yes/no, variant…) to a step"

    def get_queryset(self, request):
        # Each row shows str(edge), which names both steps.
        return super().get_queryset(request).select_related("from_step", "to_step")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name not in ("from_step", "to_step"):
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        journey_id = request.resolver_match.kwargs.get("object_id")
        kwargs["queryset"] = Step.objects.filter(journey_id=journey_id, version__isnull=True)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        # Two selects per edge form: read the draft's steps once per request, not once per select.
        cache = request.__dict__.setdefault("_journey_draft_step_choices", {})
        if journey_id not in cache:
            cache[journey_id] = [("", field.empty_label), *((s.pk, str(s)) for s in field.queryset)]
        field.choices = cache[journey_id]
        return field


class JourneyForm(forms.ModelForm):
    """Settings that only work in pairs: half of one was silently ignored (or, for re-entry,
    meant 're-enter at every run')."""

    class Meta:
        model = Journey
        fields = [
            "name",
            "description",
            "reentry",
            "reentry_days",
            "conversion_window_days",
            "holdout_percent",
            "quiet_hours_start",
            "quiet_hours_end",
            "frequency_cap_messages",
            "frequency_cap_days",
            "frequency_cap_action",
        ]

    def clean(self):
        cleaned = super().clean()
        errors = {}
        if cleaned.get("reentry") == Journey.Reentry.AFTER_DAYS and not cleaned.get("reentry_days"):
            errors["reentry_days"] = "Give the number of days (at least 1) for 'after N days'."
        pairs = [
            ("frequency_cap_messages", "frequency_cap_days", "Set both the number of messages and the days."),
            ("quiet_hours_start", "quiet_hours_end", "Set both the start and the end of the quiet hours."),
        ]
        for first, second, message in pairs:
            has_first, has_second = cleaned.get(first) is not None, cleaned.get(second) is not None
            if has_first != has_second:
                errors[second if has_first else first] = message
        if errors:
            raise ValidationError(errors)
        return cleaned


def _messages_line(journey_id: int, counts: dict[str, int], by_step: dict[int | None, dict[str, int]]):
    """Sent, failed and in doubt told apart (a completed enrollment may hold a message that did not
    go), with links to the outbox (the journey's, and each step's) where they can be retried."""
    waiting = counts.get("queued", 0) + counts.get("sending", 0)
    line = format_html(
        "messages: {} sent, {} in doubt, {} failed, {} waiting, {} suppressed",
        f"{counts.get('sent', 0):,}",
        f"{counts.get('in_doubt', 0):,}",
        f"{counts.get('failed', 0):,}",
        f"{waiting:,}",
        f"{counts.get('suppressed', 0):,}",
    )
    if not (counts.get("in_doubt", 0) or counts.get("failed", 0)):
        return line
    outbox = (
        reverse("admin:messaging_message_changelist") + f"?journey_id={journey_id}&status__in=failed,in_doubt"
    )
    line = format_html('{} — <a href="{}" data-retry-link>review and retry</a>', line, outbox)
    problems = {
        step_id: step for step_id, step in by_step.items() if step_id and (step["in_doubt"] or step["failed"])
    }
    names = dict(Step.objects.filter(pk__in=problems).values_list("id", "name"))
    steps = format_html_join(
        "",
        '<br>step “{}”: <a href="{}&amp;step_id={}" data-retry-step="{}">{} in doubt, {} failed</a>',
        (
            (names.get(step_id, step_id), outbox, step_id, step_id, step["in_doubt"], step["failed"])
            for step_id, step in sorted(problems.items())
        ),
    )
    return format_html("{}{}", line, steps)


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    form = JourneyForm
    list_display = ["name", "status", "version_number", "in_flight", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    list_select_related = ["current_version"]
    readonly_fields = ["status", "current_version", "last_entry", "report", "graph"]
    inlines = [StepInline, EdgeInline]
    actions = ["publish", "pause", "resume", "archive", journeys_export]
    fieldsets = [
        (
            None,
            {"fields": ["name", "description", "status", "current_version", "last_entry", "report", "graph"]},
        ),
        ("Entry and conversion", {"fields": ["reentry", "reentry_days", "conversion_window_days"]}),
        (
            "Sending rules",
            {
                "fields": [
                    "holdout_percent",
                    "quiet_hours_start",
                    "quiet_hours_end",
                    "frequency_cap_messages",
                    "frequency_cap_days",
                    "frequency_cap_action",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(in_flight_count=journey_in_flight_expression())  # from the JourneyStat rollup
        )

    @admin.display(description="version", ordering="current_version__number")
    def version_number(self, obj):
        return obj.current_version.number if obj.current_version else "—"

    @admin.display(description="in flight", ordering="in_flight_count")
    def in_flight(self, obj):
        return obj.in_flight_count

    @admin.display(description="report")
    def report(self, obj):
        if not obj.pk:
            return "—"
        data = journey_stats(journey=obj)  # the rollup (refreshed by each tick and every minute)
        if data["refreshed_at"] is None:
            return "not counted yet (counts refresh with each tick and every minute)"
        states = ", ".join(f"{k}: {v}" for k, v in sorted(data["states"].items())) or "nobody yet"
        groups = "; ".join(
            f"{'holdout' if g['holdout'] else (g['variant'] or 'all')}: {g['converted']}/{g['n']} converted"
            for g in data["groups"]
        )
        from messaging.selectors import messages_stats_by_step

        by_step = messages_stats_by_step(journey_id=obj.pk)  # one grouped query: sent/failed/in doubt
        totals: dict[str, int] = {}
        for counts in by_step.values():
            for status, n in counts.items():
                totals[status] = totals.get(status, 0) + n
        when = timezone.localtime(data["refreshed_at"]).strftime("%H:%M:%S")
        return format_html(
            "{}<br>{}<br>{}<br><small>counted at {}</small>",
            states,
            groups,
            _messages_line(obj.pk, totals, by_step),
            when,
        )

    @admin.display(description="last entry run")
    def last_entry(self, obj):
        run = EntryRun.objects.filter(journey=obj).first() if obj.pk else None
        if run is None:
            return "—"
        when = timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M")
        if run.error:
            return format_html(
                '<strong style="color:#ba2121">{}: nobody entered: {}</strong>', when, run.error
            )
        return f"{when}: {run.entered} entered"

    @admin.display(description="draft graph")
    def graph(self, obj):
        """The draft as a list: each step with its branches (a visual editor comes later)."""
        if not obj.pk:
            return "—"
        steps = list(Step.objects.filter(journey=obj, version__isnull=True).order_by("y", "x", "id"))
        edges: dict[int, list] = {}
        for edge in Edge.objects.filter(journey=obj, version__isnull=True).select_related("to_step"):
            edges.setdefault(edge.from_step_id, []).append(edge)
        names = step_names_fetch(step.config for step in steps)  # one query per kind of row
        rows = []
        for step in steps:
            kind = registry.get(step.kind)
            arrows = ", ".join(
                f"{e.branch} → {e.to_step.name or e.to_step.kind}" for e in edges.get(step.id, [])
            )
            rows.append(
                (
                    step.name or step.kind,
                    kind.label if kind else step.kind,
                    kind.describe(step.config, names) if kind else "",
                    f"· {arrows}" if arrows else "",
                )
            )
        if not rows:
            return "no steps yet"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li><strong>{}</strong> ({}) {} {}</li>", rows)
        )

    def _run(self, request, queryset, service, verb):
        for journey in queryset:
            status = journey.status  # before: the service refreshes the instance
            try:
                service(journey=journey)
            except ValidationError as exc:
                self.message_user(request, f"{journey}: {'; '.join(exc.messages)}", messages.ERROR)
            else:
                audit_record(
                    user=request.user,
                    action=f"journey.{service.__name__[8:]}",
                    obj=journey,
                    changes={"status": [status, verb]},
                )
                self.message_user(request, f"{journey}: {verb}.", messages.SUCCESS)

    def delete_model(self, request, obj):
        journey_delete(journey=obj)

    def delete_queryset(self, request, queryset):
        for journey in queryset:
            journey_delete(journey=journey)

    @admin.action(description="Publish the draft as a new version (and activate)", permissions=["change"])
    def publish(self, request, queryset):
        for journey in queryset:
            try:
                version = journey_publish(journey=journey, user=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{journey}: {'; '.join(exc.messages)}", messages.ERROR)
            else:
                audit_record(
                    user=request.user,
                    action="journey.publish",
                    obj=journey,
                    changes={"version": version.number},
                )
                self.message_user(
                    request, f"{journey}: version {version.number} published.", messages.SUCCESS
                )

    @admin.action(description="Pause (contacts hold where they are)", permissions=["change"])
    def pause(self, request, queryset):
        self._run(request, queryset, journey_pause, "paused")

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request, queryset):
        self._run(request, queryset, journey_resume, "resumed")

    @admin.action(description="Archive (contacts in flight exit)", permissions=["change"])
    def archive(self, request, queryset):
        self._run(request, queryset, journey_archive, "archived")

    # --- Move contacts in flight to another version (journey_migrate) ---

    def get_urls(self):
        return [
            path(
                "<path:object_id>/migrate/",
                self.admin_site.admin_view(self.migrate_view),
                name="journeys_journey_migrate",
            ),
            *super().get_urls(),
        ]

    def migrate_view(self, request, object_id: str):
        """Pick two versions (GET), then map each occupied step of the source to a step of the target
        (POST): journey_migrate moves everyone or nobody. Four queries plus the session's."""
        journey = self.get_object(request, unquote(object_id))
        if journey is None:
            raise Http404("No such journey.")
        if not self.has_change_permission(request, journey):
            raise PermissionDenied
        versions = list(JourneyVersion.objects.filter(journey=journey).order_by("number"))
        by_pk = {v.pk: v for v in versions}
        counts = journey_in_flight_counts(journey=journey)
        per_version: dict[int, int] = {}
        for (version_id, _step_id), n in counts.items():
            per_version[version_id] = per_version.get(version_id, 0) + n

        target_id = journey.current_version_id
        source_id = next((v.pk for v in versions if per_version.get(v.pk) and v.pk != target_id), None)
        bound = "source" in request.GET or "target" in request.GET
        versions_form = VersionsForm(
            request.GET if bound else None,
            initial={"source": source_id, "target": target_id},
            versions=versions,
            counts=per_version,
            current_id=journey.current_version_id,
        )
        if bound:
            source_id, target_id = (
                (versions_form.cleaned_data["source"], versions_form.cleaned_data["target"])
                if versions_form.is_valid()
                else (None, None)
            )
        source, target = by_pk.get(source_id), by_pk.get(target_id)

        mapping_form = None
        if source is not None and target is not None:
            steps = list(Step.objects.filter(version__in=[source, target]).order_by("y", "x", "id"))
            source_steps = {s.pk: s for s in steps if s.version_id == source.pk}
            order = {pk: i for i, pk in enumerate(source_steps)}
            occupied = sorted(
                (
                    OccupiedStep(source_steps.get(step_id), n)
                    for (version_id, step_id), n in counts.items()
                    if version_id == source.pk
                ),
                key=lambda row: order.get(row.step.pk if row.step else None, len(order)),
            )
            mapping_form = StepMappingForm(
                request.POST if request.method == "POST" else None,
                occupied=occupied,
                target_steps=[s for s in steps if s.version_id == target.pk],
            )
            if request.method == "POST" and mapping_form.is_valid():
                try:
                    moved = journey_migrate(
                        from_version=source, to_version=target, step_mapping=mapping_form.step_mapping()
                    )
                except ValidationError as exc:
                    for message in exc.messages:
                        mapping_form.add_error(None, message)
                else:
                    audit_record(
                        user=request.user,
                        action="journey.migrate",
                        obj=journey,
                        changes={"from_version": source.number, "to_version": target.number, "moved": moved},
                    )
                    self.message_user(
                        request,
                        f"{journey}: moved {moved} contact{'s' if moved != 1 else ''} "
                        f"from version {source.number} to version {target.number}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:journeys_journey_change", args=[journey.pk]))

        title = (
            f"Move contacts to version {target.number}"
            if target is not None
            else "Move contacts to another version"
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": journey,
            "title": title,
            "source": source,
            "target": target,
            "version_rows": [(v, per_version.get(v.pk, 0)) for v in versions],
            "versions_form": versions_form,
            "mapping_form": mapping_form,
            "in_flight": sum(per_version.values()),
        }
        return TemplateResponse(request, "admin/journeys/journey/migrate.html", context)


@admin.register(JourneyVersion)
class JourneyVersionAdmin(admin.ModelAdmin):
    list_display = ["journey", "number", "published_at", "published_by"]
    list_filter = ["journey"]
    list_select_related = ["journey", "published_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting a version would delete the enrollments and history of everyone who entered it:
        # versions go only with their journey (the journey's delete page asks about them too).
        match = getattr(request, "resolver_match", None)
        return bool(
            match
            and (match.url_name or "").startswith("journeys_journey_")
            and super().has_delete_permission(request, obj)
        )


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


# --- Surveys, audiences, audit ---------------------------------------------------------------


class SurveyQuestionInline(admin.TabularInline):
    model = SurveyQuestion
    extra = 1


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["title", "created_at"]
    inlines = [SurveyQuestionInline]


@admin.register(AudienceExport)
class AudienceExportAdmin(admin.ModelAdmin):
    list_display = ["name", "size", "download", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="contacts", ordering="member_count")
    def size(self, obj):
        return obj.member_count

    @admin.display(description="file")
    def download(self, obj):
        url = reverse("admin:journeys_audienceexport_download", args=[obj.pk])
        return format_html('<a href="{}">download CSV</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:export_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="journeys_audienceexport_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, export_id: int):
        export = get_object_or_404(AudienceExport, pk=export_id)
        if not self.has_view_permission(request, export):
            return HttpResponseRedirect(reverse("admin:index"))

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())
        rows = (
            export.members.order_by("id")
            .values_list("email_sha256", "phone_sha256")
            .iterator(chunk_size=5000)
        )

        def lines():
            yield writer.writerow(["email_sha256", "phone_sha256"])
            for row in rows:
                yield writer.writerow(row)

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="audience-{export.pk}.csv"'
        return response


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "contact_id", "journey_id", "detail"]
    list_filter = ["action"]
    search_fields = ["=contact_id"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
