"""Import jobs and API tokens in the admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils.html import format_html

from contacts.admin.mixins import ExportMixin
from contacts.models import ApiToken, ImportJob
from contacts.paginator import LargeTablePaginator
from contacts.services.tokens import apitoken_create


@admin.register(ImportJob)
class ImportJobAdmin(ExportMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "kind",
        "original_name",
        "status",
        "progress",
        "total_rows",
        "created_rows",
        "updated_rows",
        "created_by",
        "created_at",
    ]
    list_select_related = ["created_by"]
    list_filter = ["kind", "status"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    readonly_fields = [
        "kind",
        "format",
        "original_name",
        "status",
        "phase",
        "total_rows",
        "processed_rows",
        "created_rows",
        "updated_rows",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    exclude = ["file", "errors"]
    change_form_template = "admin/contacts/importjob/change_form.html"
    export_columns = [
        ("id", "id"),
        ("kind", "kind"),
        ("file", "original_name"),
        ("status", "status"),
        ("total_rows", "total_rows"),
        ("created_rows", "created_rows"),
        ("updated_rows", "updated_rows"),
        ("created_by", "created_by__username"),
        ("created_at", "created_at"),
        ("finished_at", "finished_at"),
    ]

    @admin.display(description="Progress")
    def progress(self, obj: ImportJob) -> str:
        return f"{obj.progress_percent}%"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:job_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="contacts_importjob_progress",
            )
        ] + super().get_urls()

    def progress_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(ImportJob, pk=job_id)
        response = render(request, "contacts/_import_job_progress.html", {"job": job})
        response["Vary"] = "HX-Request"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "show_save": False}
        )


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name", "is_active"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["name", "token_prefix", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    show_full_result_count = False
    readonly_fields = ["token_prefix", "created_at", "last_used_at"]

    @admin.display(description="Token starts with")
    def token_prefix(self, obj: ApiToken) -> str:
        return format_html("<code>{}…</code>", obj.prefix) if obj.prefix else "-"

    def get_fields(self, request, obj=None):
        return ["name", "is_active"] if obj is None else ["name", "is_active", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = apitoken_create(name=form.cleaned_data["name"])
        if not form.cleaned_data.get("is_active", True):
            ApiToken.objects.filter(pk=token.pk).update(is_active=False)
        obj.pk, obj.key_hash, obj.prefix, obj.created_at = (
            token.pk,
            token.key_hash,
            token.prefix,
            token.created_at,
        )
        obj._state.adding = False
        obj._state.db = token._state.db
        messages.warning(
            request,
            format_html(
                "Copy the token for <b>{}</b> now, it is not shown again: <code id='api-token'>{}</code>",
                token.name,
                raw,
            ),
        )
