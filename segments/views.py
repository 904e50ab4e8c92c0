"""htmx endpoints of the rule editor and the scoring progress. Staff only."""

from __future__ import annotations

import json

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from segments.models import ScoringRun
from segments.rules import RuleError
from segments.scoring_report import scoring_run_report
from segments.selectors import rules_preview


def _render(request: HttpRequest, partial: str, full: str, context: dict) -> HttpResponse:
    """The partial for htmx requests, the full page otherwise; caches must keep them apart."""
    response = TemplateResponse(request, partial if request.htmx else full, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_member_required
@require_http_methods(["GET", "POST"])
def rules_preview_view(request: HttpRequest) -> HttpResponse:
    """Count and a sample of the contacts the (unsaved) rules select, or the errors."""
    if not request.user.has_perms(["segments.view_segment", "contacts.view_contact"]):
        return HttpResponse("You may not see contacts.", status=403)
    data = request.POST if request.method == "POST" else request.GET
    raw = data.get("rules", "") or "{}"
    segment_id = data.get("segment_id") or None
    context: dict = {"raw_rules": raw, "errors": [], "count": None, "sample": []}
    try:
        rules = json.loads(raw)
    except json.JSONDecodeError as exc:
        context["errors"] = [("", f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")]
    else:
        try:
            context["count"], context["sample"] = rules_preview(
                rules=rules, segment_id=int(segment_id) if segment_id and segment_id.isdigit() else None
            )
        except RuleError as exc:
            context["errors"] = exc.errors
    return _render(request, "segments/_preview.html", "segments/preview.html", context)


@staff_member_required
def scoring_run_progress_view(request: HttpRequest, run_id: int) -> HttpResponse:
    if not request.user.has_perm("segments.view_scoringrun"):
        return HttpResponse(status=403)
    run = get_object_or_404(ScoringRun, pk=run_id)
    context = {"run": run, "report": scoring_run_report(run)}
    return _render(request, "segments/_run_progress.html", "segments/run_progress.html", context)
