"""htmx endpoints of the rule editor and the scoring progress. Staff only."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from segments.models import ScoringRun
from segments.rules import RuleError, rules_compile
from segments.selectors import rules_count_estimate, rules_count_within, rules_sample

SAMPLE_SIZE = 10


def _budget_ms() -> int:
    """How long the preview may count before it answers "about N" (settings.SEGMENT_PREVIEW_BUDGET_MS)."""
    return int(getattr(settings, "SEGMENT_PREVIEW_BUDGET_MS", 400))


def _count_limit_ms() -> int:
    """How long the exact count may take once the page has its answer (SEGMENT_COUNT_LIMIT_MS)."""
    return int(getattr(settings, "SEGMENT_COUNT_LIMIT_MS", 30_000))


def _rules_from(request: HttpRequest) -> tuple[str, int | None, object, list]:
    data = request.POST if request.method == "POST" else request.GET
    raw = data.get("rules", "") or "{}"
    segment_id = data.get("segment_id") or ""
    segment_pk = int(segment_id) if segment_id.isdigit() else None
    try:
        rules = json.loads(raw)
    except json.JSONDecodeError as exc:
        return (
            raw,
            segment_pk,
            None,
            [("", f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")],
        )
    try:
        rules_compile(rules, segment_id=segment_pk)
    except RuleError as exc:
        return raw, segment_pk, rules, exc.errors
    return raw, segment_pk, rules, []


def _render(request: HttpRequest, partial: str, full: str, context: dict) -> HttpResponse:
    """The partial for htmx requests, the full page otherwise; caches must keep them apart."""
    response = TemplateResponse(request, partial if request.htmx else full, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_member_required
@require_http_methods(["GET", "POST"])
def rules_preview_view(request: HttpRequest) -> HttpResponse:
    """A sample and the count of the contacts the (unsaved) rules select, or the errors.

    Never blocks for long: the sample and the count each get the preview budget. A count that needs
    more answers "about N" (an earlier count with its age, the saved size, or the planner's estimate)
    and the partial asks rules_count_view for the exact number by htmx."""
    if not request.user.has_perms(["segments.view_segment", "contacts.view_contact"]):
        return HttpResponse("You may not see contacts.", status=403)
    raw, segment_id, rules, errors = _rules_from(request)
    context: dict = {"raw_rules": raw, "errors": errors, "count": None, "sample": [], "estimate": None}
    if not errors:
        budget = _budget_ms()
        sample = rules_sample(rules=rules, segment_id=segment_id, size=SAMPLE_SIZE, milliseconds=budget)
        context["sample"] = sample or []
        if sample is not None and len(sample) < SAMPLE_SIZE:
            context["count"] = len(sample)
        else:
            context["count"] = rules_count_within(rules=rules, segment_id=segment_id, milliseconds=budget)
        if context["count"] is None:
            context["estimate"] = rules_count_estimate(rules=rules, segment_id=segment_id)
            context["count_vals"] = json.dumps({"rules": raw, "segment_id": segment_id or ""})
    return _render(request, "segments/_preview.html", "segments/preview.html", context)


@staff_member_required
@require_http_methods(["POST"])
def rules_count_view(request: HttpRequest) -> HttpResponse:
    """The exact count for a preview that answered "about N" (htmx). The database stops the count after
    SEGMENT_COUNT_LIMIT_MS; a newer preview aborts this request in the browser (hx-sync)."""
    if not request.user.has_perms(["segments.view_segment", "contacts.view_contact"]):
        return HttpResponse("You may not see contacts.", status=403)
    _raw, segment_id, rules, errors = _rules_from(request)
    context: dict = {"errors": errors, "count": None, "limit_s": _count_limit_ms() // 1000}
    if not errors:
        context["count"] = rules_count_within(
            rules=rules, segment_id=segment_id, milliseconds=_count_limit_ms()
        )
    response = TemplateResponse(request, "segments/_count.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_member_required
def scoring_run_progress_view(request: HttpRequest, run_id: int) -> HttpResponse:
    if not request.user.has_perm("segments.view_scoringrun"):
        return HttpResponse(status=403)
    run = get_object_or_404(ScoringRun, pk=run_id)
    return _render(request, "segments/_run_progress.html", "segments/run_progress.html", {"run": run})
