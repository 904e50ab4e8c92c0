"""Who may see and change a journey in the editor, and the JSON answers of the edit endpoints."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from journeys.models import Journey
from journeys.services.editing import DraftConflict

ETAG_HEADER = "X-Draft-Etag"


def can_view(user) -> bool:
    return user.has_perm("journeys.view_journey") or user.has_perm("journeys.change_journey")


def can_change(user) -> bool:
    return user.has_perm("journeys.change_journey")


def journey_view(write: bool = False) -> Callable:
    """Staff only; view permission to read, change permission to write. Passes the journey."""

    def decorate(view):
        @staff_member_required
        @wraps(view)
        def wrapper(request, pk: int, *args, **kwargs):
            if not can_view(request.user) or (write and not can_change(request.user)):
                raise PermissionDenied("You may not change journeys.")
            journey = get_object_or_404(Journey.objects.select_related("current_version"), pk=pk)
            return view(request, journey, *args, **kwargs)

        return wrapper

    return decorate


def request_etag(request) -> str | None:
    """The draft tag the editor holds (a header; forms may send it as a field too)."""
    return request.headers.get(ETAG_HEADER) or request.POST.get("etag") or None


def json_edit(request, journey: Journey, change: Callable[[], object]) -> JsonResponse:
    """Run one draft change; answer with the new graph, or the reason it was refused."""
    from journeys.editor.selectors import editor_graph

    try:
        if request_etag(request) is None:
            raise DraftConflict(
                "The editor did not say which draft it changed. Reload the editor and try again."
            )
        change()
    except DraftConflict as exc:
        return JsonResponse({"error": str(exc), "conflict": True}, status=409)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    except (KeyError, TypeError, ValueError):
        return JsonResponse(
            {"error": "The request was incomplete. Reload the editor and try again."}, status=400
        )
    journey.refresh_from_db()
    return JsonResponse({"graph": editor_graph(journey=journey)})


def graph_changed_trigger(journey: Journey) -> str:
    """HX-Trigger header: the editor takes the draft's new tag at once (so its next change is not
    refused as someone else's) and then reloads the graph."""
    import json

    from journeys.services.editing import draft_etag

    return json.dumps({"graphChanged": {"etag": draft_etag(journey=journey)}})
