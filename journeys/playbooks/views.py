"""Admin screens for journey files and playbooks: the gallery, creating from a playbook, importing a file,
and the "Export" action of the journey list. Thin: the work is in journeys.playbooks and
journeys.services.transfer."""

from __future__ import annotations

import io
import json
import zipfile

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods

from journeys.playbooks import Playbook, playbook_create, playbook_get, playbooks_list
from journeys.services.transfer import ImportResult, journey_export, journey_import

# Creating a journey from a file also creates segments, pools, templates, surveys and audiences.
CREATE_PERMISSIONS = (
    "journeys.add_journey",
    "segments.add_segment",
    "coupons.add_couponpool",
    "messaging.add_messagetemplate",
)
MAX_FILE_BYTES = 2 * 1024 * 1024


def _require_create(request: HttpRequest) -> None:
    if not request.user.has_perms(CREATE_PERMISSIONS):
        raise PermissionDenied(
            "Creating journeys needs permission to add journeys, segments, pools and templates."
        )


def journey_page_url(journey) -> str:
    """The visual editor when it is installed, else the journey's admin page."""
    try:
        return reverse("journeys:editor", kwargs={"pk": journey.pk})
    except NoReverseMatch:
        return reverse("admin:journeys_journey_change", args=[journey.pk])


def _report(request: HttpRequest, result: ImportResult) -> None:
    from coupons.models import CouponPool

    messages.success(request, f"Created the draft journey “{result.journey.name}”.")
    if result.object_lines():
        text = "; ".join(result.object_lines())
        messages.info(request, text[0].upper() + text[1:] + ".")
    empty_pools = CouponPool.objects.filter(
        name__in=result.created.get("pools", []) + result.reused.get("pools", []), codes_total=0
    )
    for pool in empty_pools:
        messages.warning(
            request,
            format_html(
                'Pool “{}” has no codes yet: <a href="{}">generate or import codes</a> before publishing.',
                pool.name,
                reverse("admin:coupons_couponpool_change", args=[pool.pk]),
            ),
        )
    for note in result.notes:
        if "no codes yet" not in note:
            messages.warning(request, note[0].upper() + note[1:])


class PlaybookForm(forms.Form):
    prefix = forms.CharField(
        required=False,
        max_length=40,
        help_text="Put before the name of everything created, e.g. “Spring”. Objects that already exist "
        "with the same name are reused.",
    )

    def __init__(self, *args, playbook: Playbook, **kwargs):
        super().__init__(*args, **kwargs)
        for option in playbook.options:
            if option["type"] == "choice":
                self.fields[option["name"]] = forms.ChoiceField(
                    label=option["label"], choices=option["choices"], initial=option.get("default")
                )
            elif option["type"] == "date":
                self.fields[option["name"]] = forms.DateField(
                    label=option["label"], required=False, widget=forms.DateInput(attrs={"type": "date"})
                )


@staff_member_required
def playbook_gallery(request: HttpRequest) -> HttpResponse:
    _require_create(request)
    cards = [
        (playbook, PlaybookForm(playbook=playbook, prefix=playbook.slug)) for playbook in playbooks_list()
    ]
    return render(
        request,
        "journeys/playbooks/gallery.html",
        {**admin.site.each_context(request), "title": "New journey from a playbook", "cards": cards},
    )


@staff_member_required
@require_http_methods(["POST"])
def playbook_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    _require_create(request)
    try:
        playbook = playbook_get(slug)
    except ValidationError:
        messages.error(request, f"No playbook “{slug}”.")
        return redirect("journeys:playbooks")
    form = PlaybookForm(request.POST, playbook=playbook, prefix=playbook.slug)
    if form.is_valid():
        values = dict(form.cleaned_data)
        prefix = values.pop("prefix")
        try:
            result = playbook_create(playbook=playbook, prefix=prefix, options=values, user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            _report(request, result)
            return redirect(journey_page_url(result.journey))
    cards = [
        (p, form if p.slug == playbook.slug else PlaybookForm(playbook=p, prefix=p.slug))
        for p in playbooks_list()
    ]
    return render(
        request,
        "journeys/playbooks/gallery.html",
        {
            **admin.site.each_context(request),
            "title": "New journey from a playbook",
            "cards": cards,
            "open": playbook.slug,
        },
        status=400,
    )


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A journey file (.json) exported from Winback.")
    prefix = forms.CharField(
        required=False, max_length=40, help_text="Put before the name of everything created."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError("The file is larger than 2 MB: is it a journey file?")
        try:
            return json.loads(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text: is it a journey file?") from None
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None


@staff_member_required
def journey_import_view(request: HttpRequest) -> HttpResponse:
    _require_create(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            result = journey_import(
                data=form.cleaned_data["file"], prefix=form.cleaned_data["prefix"], user=request.user
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            _report(request, result)
            return redirect(journey_page_url(result.journey))
    return render(
        request,
        "journeys/playbooks/import.html",
        {**admin.site.each_context(request), "title": "Import a journey", "form": form, "errors": errors},
        status=400 if request.method == "POST" else 200,
    )


def _journey_file_response(journey) -> HttpResponse:
    body = json.dumps(journey_export(journey=journey), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(journey.name) or "journey"}.json"'
    return response


@staff_member_required
def journey_export_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One journey as a journey file (the editor's "Export" link): needs the right to view journeys."""
    from journeys.models import Journey

    if not request.user.has_perm("journeys.view_journey"):
        raise PermissionDenied
    return _journey_file_response(get_object_or_404(Journey, pk=pk))


@admin.action(description="Export selected journeys (journey file)", permissions=["view"])
def journeys_export(modeladmin, request: HttpRequest, queryset) -> HttpResponse:
    journeys = list(queryset.order_by("name"))
    if len(journeys) == 1:
        return _journey_file_response(journeys[0])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for journey in journeys:
            body = json.dumps(journey_export(journey=journey), indent=2, ensure_ascii=False)
            archive.writestr(f"{slugify(journey.name) or 'journey'}-{journey.pk}.json", body)
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="journeys.zip"'
    return response
