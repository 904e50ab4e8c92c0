"""Shared admin pieces: exact contact search, the tag filter, export and import mixins."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from contacts.importing.formats import formats
from contacts.importing.schema import FIELDS
from contacts.models import Contact, ImportJob, Tag
from contacts.services.export import csv_stream, rows_export, xlsx_file
from contacts.services.imports import (
    import_job_create,
    import_job_enqueue,
    import_job_preview,
    import_job_run,
    import_job_runs_in_background,
)
from contacts.services.uploads import upload_size_validator

TAG_FILTER_LIMIT = 100


def _contact_ids_matching(term: str) -> list[int]:
    """Contacts whose email or customer id is exactly `term`: two unique-index lookups."""
    return list(
        Contact.objects.filter(Q(email=term.lower()) | Q(external_id=term)).values_list("id", flat=True)[:20]
    )


class ExactContactSearchMixin:
    """Search by exact ids and emails (indexed) instead of LIKE/UPPER scans over millions of rows.

    `exact_search_fields` are compared as typed; a term also matches the rows of the contact whose
    email (any case) or customer id it is. See README, section csv (admin search)."""

    exact_search_fields: tuple[str, ...] = ()
    search_fields = ["=external_id"]  # shows the search box; get_search_results does the work

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q()
        for name in self.exact_search_fields:
            match |= Q(**{name: term})
        return queryset.filter(match | Q(contact_id__in=_contact_ids_matching(term))), False


class TagFilter(admin.SimpleListFilter):
    """The first TAG_FILTER_LIMIT tags by name (a shop may have thousands); the chosen one always."""

    title = "tags"
    parameter_name = "tags__id__exact"

    def lookups(self, request, model_admin):
        tags = list(Tag.objects.order_by("name").values_list("id", "name")[:TAG_FILTER_LIMIT])
        chosen = self.value()
        if chosen and chosen.isdigit() and all(str(pk) != chosen for pk, _ in tags):
            tags += list(Tag.objects.filter(pk=chosen).values_list("id", "name"))
        return [(str(pk), name) for pk, name in tags]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(tags__id=value)
        return queryset


class ExportMixin:
    """Admin actions exporting the selected rows (or all filtered rows) as CSV or XLSX."""

    export_columns: list[tuple[str, str]] = []
    export_related: list = []  # (header, ids -> {id: value}), one query per chunk of rows
    actions = ["export_csv", "export_xlsx"]

    def _export_name(self, extension: str) -> str:
        return f"{self.model._meta.model_name}s-{timezone.now():%Y%m%d-%H%M}.{extension}"

    @admin.action(description="Export selected as CSV")
    def export_csv(self, request: HttpRequest, queryset) -> StreamingHttpResponse:
        rows = rows_export(
            queryset=queryset.order_by("pk"), columns=self.export_columns, related=self.export_related
        )
        response = StreamingHttpResponse(csv_stream(rows=rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self._export_name("csv")}"'
        return response

    @admin.action(description="Export selected as Excel (XLSX)")
    def export_xlsx(self, request: HttpRequest, queryset) -> FileResponse:
        rows = rows_export(
            queryset=queryset.order_by("pk"), columns=self.export_columns, related=self.export_related
        )
        handle = xlsx_file(rows=rows, title=self.model._meta.verbose_name_plural.title())
        return FileResponse(handle, as_attachment=True, filename=self._export_name("xlsx"))


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV, comma or semicolon separated, UTF-8, UTF-16 or Windows-1252 (Excel).",
        validators=[upload_size_validator],
    )
    format = forms.ChoiceField(
        choices=[("auto", "Detect from the headers")] + [(f.name, f.label) for f in formats().values()],
        initial="auto",
    )


def _preview_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if hasattr(value, "isoformat"):
        return (
            timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else str(value)
        )
    return str(value)


class ImportMixin:
    """An "Import CSV" page: upload, preview (row errors or what will change), confirm.

    Small files are previewed and imported in the request; files above
    WINBACK_IMPORT_BACKGROUND_BYTES become an ImportJob run by a Celery task.
    """

    import_kind = ""
    change_list_template = "admin/contacts/change_list_import.html"

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="{}_{}_import".format(*info)),
        ] + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "title": f"Import {opts.verbose_name_plural}",
            "kind": self.import_kind,
        }
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        if request.method == "POST" and request.POST.get("confirm"):
            if not request.POST["confirm"].isdigit():
                raise Http404("No such import.")
            job = get_object_or_404(ImportJob, pk=request.POST["confirm"], kind=self.import_kind)
            result = import_job_run(job_id=job.pk)
            if result is None:
                messages.warning(request, "This file was already imported.")
            elif result.ok:
                skipped = (
                    f" {result.skipped_count} skipped: erased people (see import #{job.pk})."
                    if result.skipped_count
                    else ""
                )
                messages.success(
                    request,
                    f"Imported {result.total_rows} rows: {result.created} new, {result.updated} updated."
                    + skipped,
                )
            else:
                messages.error(
                    request, f"Nothing was imported: {result.error_count} errors (see import #{job.pk})."
                )
            return HttpResponseRedirect(changelist)
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            job = import_job_create(
                kind=self.import_kind,
                upload=upload,
                user=request.user,
                format_name=form.cleaned_data["format"],
            )
            if import_job_runs_in_background(size=upload.size):
                import_job_enqueue(job=job)
                messages.info(request, "The file is large: it is imported in the background. Progress below.")
                return HttpResponseRedirect(reverse("admin:contacts_importjob_change", args=[job.pk]))
            result = import_job_preview(job=job)  # a file with errors fails the job
            present = {k for row in result.sample for k in row}
            columns = [c for c in [*FIELDS[self.import_kind], "attributes"] if c in present]
            context.update(
                job=job,
                result=result,
                sample_columns=columns,
                sample_rows=[[_preview_value(row.get(c)) for c in columns] for row in result.sample],
                title=f"Preview: import {opts.verbose_name_plural}",
            )
            return TemplateResponse(request, "admin/contacts/import_preview.html", context)
        context["form"] = form
        return TemplateResponse(request, "admin/contacts/import.html", context)
