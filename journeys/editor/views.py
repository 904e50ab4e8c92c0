"""The visual journey editor: the page, the draft graph as JSON, and one endpoint per kind of change.

Every change is a POST (CSRF-checked, change permission) to a view that calls one service of
journeys.services.editing and answers with the new graph; the canvas redraws from it."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from journeys.editor.access import can_change, graph_changed_trigger, journey_view, json_edit, request_etag
from journeys.editor.forms import form_for
from journeys.editor.selectors import editor_graph, palette
from journeys.models import Step
from journeys.services import editing
from journeys.services.editing import DraftConflict


@require_GET
@journey_view()
def editor(request, journey):
    """The full page: toolbar, palette, canvas, side panel; the graph comes as json_script."""
    editable = can_change(request.user) and journey.status != journey.Status.ARCHIVED
    context = {
        **admin.site.each_context(request),
        "title": f"{journey.name}: journey editor",
        "is_nav_sidebar_enabled": False,  # the canvas needs the width
        "journey": journey,
        "editable": editable,
        "palette": palette(),
        "editor_data": {
            "graph": editor_graph(journey=journey),
            "editable": editable,
            "urls": {
                "graph": reverse("journeys:editor-graph", args=[journey.pk]),
                "add": reverse("journeys:editor-step-add", args=[journey.pk]),
                "step": reverse("journeys:editor-step", args=[journey.pk, "KEY"]),
                "move": reverse("journeys:editor-step-move", args=[journey.pk, "KEY"]),
                "remove": reverse("journeys:editor-step-remove", args=[journey.pk, "KEY"]),
                "connect": reverse("journeys:editor-edge-connect", args=[journey.pk]),
                "disconnect": reverse("journeys:editor-edge-remove", args=[journey.pk]),
                "layout": reverse("journeys:editor-layout", args=[journey.pk]),
                "restore": reverse("journeys:editor-restore", args=[journey.pk]),
                "counts": reverse("journeys:editor-counts", args=[journey.pk]),
                "count_contacts": reverse("journeys:editor-count-contacts", args=[journey.pk, "KEY", "WHAT"]),
            },
        },
    }
    return render(request, "journeys/editor/editor.html", context)


@require_GET
@journey_view()
def graph(request, journey):
    return JsonResponse({"graph": editor_graph(journey=journey)})


@require_POST
@journey_view(write=True)
def step_add(request, journey):
    return json_edit(
        request,
        journey,
        lambda: editing.step_add(
            journey=journey,
            kind=request.POST["kind"],
            x=editing.position(request.POST.get("x", 0)),
            y=editing.position(request.POST.get("y", 0)),
            etag=request_etag(request),
        ),
    )


@require_POST
@journey_view(write=True)
def step_move(request, journey, key: str):
    return json_edit(
        request,
        journey,
        lambda: editing.step_move(
            journey=journey,
            key=key,
            x=editing.position(request.POST["x"]),
            y=editing.position(request.POST["y"]),
            etag=request_etag(request),
        ),
    )


@require_POST
@journey_view(write=True)
def step_remove(request, journey, key: str):
    return json_edit(
        request, journey, lambda: editing.step_remove(journey=journey, key=key, etag=request_etag(request))
    )


@require_POST
@journey_view(write=True)
def edge_connect(request, journey):
    return json_edit(
        request,
        journey,
        lambda: editing.edge_connect(
            journey=journey,
            from_key=request.POST["from"],
            branch=request.POST["branch"],
            to_key=request.POST["to"],
            etag=request_etag(request),
        ),
    )


@require_POST
@journey_view(write=True)
def edge_remove(request, journey):
    return json_edit(
        request,
        journey,
        lambda: editing.edge_remove(
            journey=journey,
            from_key=request.POST["from"],
            branch=request.POST["branch"],
            etag=request_etag(request),
        ),
    )


@require_POST
@journey_view(write=True)
def layout(request, journey):
    return json_edit(
        request, journey, lambda: editing.draft_layout(journey=journey, etag=request_etag(request))
    )


@require_POST
@journey_view(write=True)
def restore(request, journey):
    def change():
        snapshot = json.loads(request.POST["snapshot"])
        editing.draft_restore(journey=journey, snapshot=snapshot, etag=request_etag(request))

    return json_edit(request, journey, change)


@journey_view()
def step_panel(request, journey, key: str):
    """The side panel (htmx): GET shows the step's form, POST validates and saves it."""
    draft = list(Step.objects.filter(journey=journey, version=None).order_by("id"))
    step = next((s for s in draft if s.key == key), None)
    if step is None:
        return render(request, "journeys/editor/_panel_gone.html", {"journey": journey})
    editable = can_change(request.user) and journey.status != journey.Status.ARCHIVED
    saved, conflict = False, False
    if request.method == "POST":
        if not editable:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("You may not change journeys.")
        form = form_for(step, request.POST, draft_steps=draft)
        if request_etag(request) is None:
            conflict = True  # an edit must say which draft it was made on
        elif form.is_valid():
            try:
                step = editing.step_configure(
                    journey=journey,
                    key=key,
                    name=form.cleaned_data["name"],
                    config=form.to_config(),
                    etag=request_etag(request),
                )
            except DraftConflict:
                conflict = True
            except ValidationError as exc:
                form.add_config_errors(exc)
            else:
                saved = True
                form = form_for(step, draft_steps=draft)
    else:
        form = form_for(step, draft_steps=draft)
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    from journeys.steps import registry

    response = render(
        request,
        "journeys/editor/_panel.html",
        {
            "journey": journey,
            "step": step,
            "kind": registry.get(step.kind),
            "form": form,
            "saved": saved,
            "conflict": conflict,
            "editable": editable,
        },
    )
    if saved:
        response["HX-Trigger"] = graph_changed_trigger(journey)
    response["Vary"] = "HX-Request"
    return response
