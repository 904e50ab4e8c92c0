"""Journeys in the admin: an interface; every change goes through journeys.services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from audit.services import audit_record
from journeys.admin.forms import EdgeInline, JourneyForm, StepInline
from journeys.forms import OccupiedStep, StepMappingForm, VersionsForm
from journeys.models import (
    Edge,
    EntryRun,
    Journey,
    JourneyVersion,
    Step,
)
from journeys.playbooks.views import journeys_export
from journeys.selectors import (
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
from journeys.steps import registry
from journeys.steps.base import step_names_fetch


def _message_statuses(journey_id: int) -> dict[int | None, dict[str, int]]:
    """A journey's messages by step and status in one GROUP BY that PostgreSQL answers from the
    (journey_id, step_id, status) index alone (COUNT(*) reads no other column): 300,000 sent messages
    are counted without visiting the table, which the opened/clicked counts of the report would need."""
    from messaging.models import Message

    stats: dict[int | None, dict[str, int]] = {}
    rows = (
        Message.objects.filter(journey_id=journey_id)
        .order_by()
        .values("step_id", "status")
        .annotate(n=Count("*"))
        .values_list("step_id", "status", "n")
    )
    for step_id, status, n in rows:
        stats.setdefault(step_id, dict.fromkeys(Message.Status.values, 0))[status] += n
    return stats


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
        by_step = _message_statuses(obj.pk)
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
