"""The editor's toolbar and live views: publish (with the problem list and "what changes"), pause,
resume, archive, run entry now, who would enter now, live counts and the contacts behind them, and
the pickers' search. All writes go through journeys.services."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.services import audit_record
from journeys.editor.access import can_view, graph_changed_trigger, journey_view, request_etag
from journeys.editor.pickers import PICKER_LIMIT, PICKERS, picker_label, picker_queryset
from journeys.editor.problems import ERROR, draft_problems
from journeys.editor.selectors import count_contacts, draft_changes, entry_dry_run, live_counts
from journeys.selectors import journey_in_flight_counts
from journeys.services import journey_archive, journey_enter, journey_pause, journey_publish, journey_resume
from journeys.services.editing import draft_etag


def _dialog(request, journey, template: str, status: int = 200, changed: bool = False, **context):
    response = render(request, f"journeys/editor/{template}", {"journey": journey, **context}, status=status)
    if changed:
        response["HX-Trigger"] = graph_changed_trigger(journey)
    response["Vary"] = "HX-Request"
    return response


@require_GET
@journey_view()
def publish_check(request, journey):
    """Before publishing: the problems (errors block, warnings ask) and what changes."""
    problems = draft_problems(journey=journey)
    return _dialog(
        request,
        journey,
        "_publish.html",
        problems=problems,
        errors=[p for p in problems if p.level == ERROR],
        warnings=[p for p in problems if p.level != ERROR],
        changes=draft_changes(journey=journey),
    )


@require_POST
@journey_view(write=True)
def publish(request, journey):
    if request_etag(request) != draft_etag(journey=journey):
        return _dialog(
            request, journey, "_message.html", status=409, title="Not published",
            lines=["Someone else changed this journey meanwhile. Reload the editor to see what you publish."],
        )  # fmt: skip
    problems = draft_problems(journey=journey)
    errors = [p for p in problems if p.level == ERROR]
    warnings = [p for p in problems if p.level != ERROR]
    if errors or (warnings and request.POST.get("confirm") != "yes"):
        return _dialog(
            request,
            journey,
            "_publish.html",
            status=400 if errors else 200,
            problems=problems,
            errors=errors,
            warnings=warnings,
            changes=draft_changes(journey=journey),
            refused=True,
        )
    try:
        version = journey_publish(journey=journey, user=request.user)
    except ValidationError as exc:
        return _dialog(
            request, journey, "_message.html", status=400, title="Not published", lines=exc.messages
        )
    in_flight = sum(
        n
        for (version_id, _s), n in journey_in_flight_counts(journey=journey).items()
        if version_id != version.pk
    )
    audit_record(
        user=request.user, action="journey.publish", obj=journey, changes={"version": version.number}
    )
    return _dialog(
        request,
        journey,
        "_published.html",
        changed=True,
        version=version,
        in_flight=in_flight,
        migrate_url=reverse("admin:journeys_journey_migrate", args=[journey.pk]),
    )


def _lifecycle(request, journey, service, done: str):
    status = journey.status
    try:
        service(journey=journey)
    except ValidationError as exc:
        return _dialog(
            request, journey, "_message.html", status=400, title="Not possible", lines=exc.messages
        )
    journey.refresh_from_db()
    audit_record(
        user=request.user,
        action=f"journey.{service.__name__.removeprefix('journey_')}",
        obj=journey,
        changes={"status": [status, journey.status], "source": "editor"},
    )
    return _dialog(request, journey, "_message.html", changed=True, title=done, lines=[])


@require_POST
@journey_view(write=True)
def pause(request, journey):
    return _lifecycle(request, journey, journey_pause, "Paused: contacts hold where they are.")


@require_POST
@journey_view(write=True)
def resume(request, journey):
    return _lifecycle(request, journey, journey_resume, "Resumed.")


@require_POST
@journey_view(write=True)
def archive(request, journey):
    return _lifecycle(request, journey, journey_archive, "Archived: contacts in flight have exited.")


@require_GET
@journey_view()
def changes(request, journey):
    return _dialog(request, journey, "_changes.html", changes=draft_changes(journey=journey))


@require_POST
@journey_view(write=True)
def entry_run(request, journey):
    """Run the published entry step once, now (instead of waiting for its first interval)."""
    if journey.status != journey.Status.ACTIVE or journey.current_version_id is None:
        return _dialog(
            request, journey, "_message.html", status=400, title="Publish the journey first",
            lines=["Only an active, published journey takes contacts in."],
        )  # fmt: skip
    entered = journey_enter(journey=journey)
    error = journey.entry_runs.values_list("error", flat=True).first()
    lines = [f"Nobody could enter: {error}"] if error and not entered else []
    title = f"{entered} contact{'s' if entered != 1 else ''} entered the journey."
    return _dialog(request, journey, "_message.html", changed=True, title=title, lines=lines)


@require_GET
@journey_view()
def entry_dry_run_view(request, journey):
    """Who the entry step would take in now: count and ten examples. Enrolls nobody."""
    return _dialog(request, journey, "_dry_run.html", result=entry_dry_run(journey=journey))


@require_GET
@journey_view()
def counts(request, journey):
    """Live counts per step and per edge (a fixed number of grouped queries)."""
    response = JsonResponse(live_counts(journey=journey))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@journey_view()
def count_contacts_view(request, journey, key: str, what: str):
    if what not in ("waiting", "passed") and not what.startswith("branch:"):
        raise Http404("Unknown count.")
    rows = count_contacts(journey=journey, key=key, what=what)
    for row in rows:
        row["explain_url"] = reverse("admin:journeys_enrollment_explain", args=[row["enrollment_id"]])
    step = journey.steps.filter(key=key).order_by("-id").first()
    return _dialog(request, journey, "_count_contacts.html", rows=rows, step=step, what=what)


@require_GET
@staff_member_required
def pick(request, what: str):
    """Options for a picker's search box (htmx swaps them into the select)."""
    if what not in PICKERS:
        raise Http404("Unknown picker.")
    if not can_view(request.user):
        raise PermissionDenied
    query = request.GET.get("q", "").strip()
    selected = request.GET.get(request.GET.get("name", ""), "")
    options = [(obj.pk, picker_label(what, obj)) for obj in picker_queryset(what, query)[:PICKER_LIMIT]]
    return render(
        request,
        "journeys/editor/_picker_options.html",
        {"options": options, "selected": str(selected), "query": query},
    )


@require_GET
@staff_member_required
def template_preview(request):
    from messaging.models import MessageTemplate

    if not can_view(request.user):
        raise PermissionDenied
    template_id = request.GET.get(request.GET.get("name", ""), "")
    template = MessageTemplate.objects.filter(pk=template_id).first() if str(template_id).isdigit() else None
    return render(request, "journeys/editor/_template_preview.html", {"template": template})
