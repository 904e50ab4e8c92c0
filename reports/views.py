"""Report pages inside the admin chrome. Every figure comes from a selector; every table downloads as CSV
(`?download=<table>`), with spreadsheet-safe cells."""

from __future__ import annotations

import csv
import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contacts.services.export import cell_safe
from journeys.models import Journey, JourneyVersion
from journeys.services.winner import journey_declare_winner
from reports.charts import chart
from reports.journey_days import journey_results_from_days
from reports.models import JourneySnapshot
from reports.permissions import AUDIENCE, COUPONS, DASHBOARD_TABLES, JOURNEYS, dashboard_parts
from reports.selectors.coupons import coupons_report, coupons_tables
from reports.selectors.dashboard import dashboard, dashboard_tables
from reports.selectors.export import journey_report_tables
from reports.selectors.journey import ReportFilter, journey_results
from reports.selectors.movement import (
    FIELDS,
    inactive_reengagement,
    inactive_reengagement_stored,
    sizes_over_time,
    transition_contacts,
)
from reports.selectors.movement import transition_matrix as movement_matrix

REENGAGEMENT_HEADER = [
    "journey", "treated_entered_inactive", "treated_no_longer_inactive",
    "holdout_entered_inactive", "holdout_no_longer_inactive",
]  # fmt: skip


def csv_response(*, filename: str, rows: list[list]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.writer(response)
    for row in rows:
        writer.writerow([cell_safe(value) for value in row])
    return response


def _download(request: HttpRequest, tables: dict[str, list[list]], prefix: str) -> HttpResponse | None:
    name = request.GET.get("download")
    if not name:
        return None
    if name not in tables:
        raise Http404("No such table.")
    return csv_response(filename=f"{prefix}-{name}", rows=tables[name])


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _page(request: HttpRequest, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {
            **admin.site.each_context(request),
            "title": title,
            "currency": settings.REPORTS_CURRENCY,
            **context,
        },
    )


@staff_member_required
def dashboard_download(request: HttpRequest) -> HttpResponse:
    parts = dashboard_parts(request.user)
    tables = {
        name: rows for name, rows in dashboard_tables(dashboard()).items() if parts[DASHBOARD_TABLES[name]]
    }
    response = _download(request, tables, "dashboard")
    if response is None:
        raise Http404("Name a table: ?download=stages")
    return response


class JourneyFilterForm(forms.Form):
    version = forms.ModelChoiceField(
        queryset=JourneyVersion.objects.none(), required=False, empty_label="All versions"
    )
    entered_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    entered_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, journey: Journey, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = journey.versions.order_by("-number")
        self.fields["version"].label_from_instance = lambda v: f"version {v.number}"

    def clean(self):
        data = super().clean()
        if data.get("entered_from") and data.get("entered_to") and data["entered_from"] > data["entered_to"]:
            raise ValidationError("The start of the entry range is after its end.")
        return data


@staff_member_required
def journey_report(request: HttpRequest, journey_id: int) -> HttpResponse:
    _require(request, JOURNEYS)
    journey = get_object_or_404(Journey.objects.select_related("current_version"), pk=journey_id)
    form = JourneyFilterForm(request.GET or None, journey=journey)
    filters = ReportFilter()
    if form.is_bound and form.is_valid():
        filters = ReportFilter(
            version=form.cleaned_data["version"],
            entered_from=form.cleaned_data["entered_from"],
            entered_to=form.cleaned_data["entered_to"],
        )
    snapshot = None
    if not request.GET.get("live") and not request.GET.get("download"):
        snapshot = JourneySnapshot.objects.filter(journey=journey).first()
    if snapshot is not None and not filters.is_filtered:
        report = {**snapshot.data, "journey": journey, "filters": filters}
    elif snapshot is not None:  # filtered: sum the stored entry days written with the snapshot
        report = journey_results_from_days(journey=journey, filters=filters)
    else:
        report = journey_results(journey=journey, filters=filters)
    if response := _download(request, journey_report_tables(report), f"journey-{journey.pk}"):
        return response
    split_keys = _ab_steps(report)
    charts = {
        "funnel": chart(
            title="Funnel: contacts who reached each step",
            labels=[s["name"] or s["kind"] for s in report["steps"]],
            datasets=[("Contacts", [s["reached"] for s in report["steps"]])],
            value_label="Contacts",
            horizontal=True,
        ),
        "groups": chart(
            title="Conversion rate: treated vs holdout",
            labels=["Treated", "Holdout"],
            datasets=[
                (
                    "Conversion rate",
                    [report["treated"]["conversion_rate"], report["holdout"]["conversion_rate"]],
                )
            ],
            unit="percent",
            value_label="Converted within the window (%)",
        ),
    }
    if report["variants"]:
        charts["variants"] = chart(
            title="Conversion rate by variant",
            labels=[v["variant"] for v in report["variants"]],
            datasets=[("Conversion rate", [v["conversion_rate"] for v in report["variants"]])],
            unit="percent",
            value_label="Converted within the window (%)",
            category_label="Variant",
        )
    return _page(
        request,
        "reports/journey.html",
        f"Results: {journey.name}",
        journey=journey,
        report=report,
        form=form,
        charts=charts,
        split_keys=split_keys,
        snapshot=snapshot,
        can_declare=request.user.has_perm("journeys.change_journey")
        and journey.status == Journey.Status.ACTIVE,
        query=request.GET.urlencode(),
    )


def _ab_steps(report: dict) -> list[str]:
    return [s["key"] for s in report["steps"] if s["kind"] == "ab_split"]


@staff_member_required
@require_POST
def journey_declare(request: HttpRequest, journey_id: int) -> HttpResponse:
    if not request.user.has_perm("journeys.change_journey"):
        raise PermissionDenied
    journey = get_object_or_404(Journey, pk=journey_id)
    variant = request.POST.get("variant", "")
    try:
        version = journey_declare_winner(
            journey=journey, step_key=request.POST.get("step_key", ""), variant=variant, user=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Variant {variant} declared the winner: version {version.number} sends every new entrant down "
            "its branch. Contacts already in flight finish on their version.",
        )
    return HttpResponseRedirect(reverse("reports:journey", args=[journey.pk]))


MOVEMENT_EARLIEST, MOVEMENT_LATEST = dt.date(1900, 1, 1), dt.date(9000, 12, 31)  # room for the 30-day default


def _moment(value: str | None, default: dt.datetime) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value) if value else None
    except ValueError:
        day = None
    if day is None or not MOVEMENT_EARLIEST <= day <= MOVEMENT_LATEST:
        return default
    return timezone.make_aware(dt.datetime.combine(day, dt.time.max))


def _movement_args(request: HttpRequest) -> tuple[str, dt.datetime, dt.datetime]:
    field = request.GET.get("field", "segment")
    if field not in FIELDS:
        field = "segment"
    now = timezone.now()
    end = _moment(request.GET.get("to"), now)
    start = _moment(request.GET.get("from"), end - dt.timedelta(days=30))
    if start > end:
        start, end = end, start
    return field, start, end


@staff_member_required
def movement(request: HttpRequest) -> HttpResponse:
    _require(request, AUDIENCE)
    field, start, end = _movement_args(request)
    matrix = movement_matrix(field=field, start=start, end=end)
    sizes = sizes_over_time(metric=field)
    reengagement = None if request.GET.get("live") else inactive_reengagement_stored()
    stored = reengagement is not None
    if reengagement is None:
        reengagement = inactive_reengagement()
    tables = {
        "matrix": [[f"{matrix['label']} at start \\ at end", *matrix["values"]]]
        + [[row["value"], *(n for _, n in row["cells"])] for row in matrix["rows"]],
        "sizes": [["day", *sizes["series"]]]
        + [[day, *(values[i] for values in sizes["series"].values())] for i, day in enumerate(sizes["days"])],
        "reengagement": [REENGAGEMENT_HEADER]
        + [
            [
                r["journey"],
                r["treated"]["entered"],
                r["treated"]["moved"],
                r["holdout"]["entered"],
                r["holdout"]["moved"],
            ]
            for r in reengagement
        ],
    }
    if response := _download(request, tables, f"movement-{field}"):
        return response
    return _page(
        request,
        "reports/movement.html",
        "Audience movement",
        field=field,
        fields=[(key, label) for key, (label, _) in FIELDS.items()],
        start=start,
        end=end,
        matrix=matrix,
        sizes=sizes,
        sizes_chart=chart(
            title=f"{FIELDS[field][0]} sizes over time",
            labels=sizes["days"],
            datasets=list(sizes["series"].items()),
            value_label="Contacts",
            category_label="Day",
        ),
        reengagement=reengagement,
        reengagement_stored=stored,
    )


@staff_member_required
def movement_contacts(request: HttpRequest) -> HttpResponse:
    _require(request, AUDIENCE)
    field, start, end = _movement_args(request)
    value_from, value_to = request.GET.get("a", ""), request.GET.get("b", "")
    contacts = transition_contacts(
        field=field, start=start, end=end, value_from=value_from, value_to=value_to
    )
    if request.GET.get("download") == "contacts":
        rows = [["id", "email", "first_name", "last_name"]]
        rows += [list(r) for r in contacts.values_list("pk", "email", "first_name", "last_name")]
        return csv_response(filename=f"movement-{field}-contacts", rows=rows)
    shown = list(contacts[:200])
    return _page(
        request,
        "reports/movement_contacts.html",
        f"{FIELDS[field][0]}: {value_from or '(none)'} → {value_to or '(none)'}",
        contacts=shown,
        more=len(shown) == 200,
        field=field,
        start=start,
        end=end,
        query=request.GET.urlencode(),
    )


@staff_member_required
def coupons(request: HttpRequest) -> HttpResponse:
    _require(request, COUPONS)
    data = coupons_report()
    if response := _download(request, coupons_tables(data), "coupons"):
        return response
    over_time = data["over_time"]
    return _page(
        request,
        "reports/coupons.html",
        "Coupon pools",
        data=data,
        chart_over_time=chart(
            title="Coupons assigned and redeemed per day, last 90 days",
            labels=over_time["days"],
            datasets=[("Assigned", over_time["assigned"]), ("Redeemed", over_time["redeemed"])],
            value_label="Codes per day",
            category_label="Day",
        ),
    )
