"""Surveys, audience exports and the journeys audit log in the admin."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.db.models import Count
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from journeys.models import (
    AudienceExport,
    AuditLog,
    Survey,
    SurveyQuestion,
)

# --- Surveys, audiences, audit ---------------------------------------------------------------


class SurveyQuestionInline(admin.TabularInline):
    model = SurveyQuestion
    extra = 1


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["title", "created_at"]
    inlines = [SurveyQuestionInline]


@admin.register(AudienceExport)
class AudienceExportAdmin(admin.ModelAdmin):
    list_display = ["name", "size", "download", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="contacts", ordering="member_count")
    def size(self, obj):
        return obj.member_count

    @admin.display(description="file")
    def download(self, obj):
        url = reverse("admin:journeys_audienceexport_download", args=[obj.pk])
        return format_html('<a href="{}">download CSV</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:export_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="journeys_audienceexport_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, export_id: int):
        export = get_object_or_404(AudienceExport, pk=export_id)
        if not self.has_view_permission(request, export):
            return HttpResponseRedirect(reverse("admin:index"))

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())
        rows = (
            export.members.order_by("id")
            .values_list("email_sha256", "phone_sha256")
            .iterator(chunk_size=5000)
        )

        def lines():
            yield writer.writerow(["email_sha256", "phone_sha256"])
            for row in rows:
                yield writer.writerow(row)

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="audience-{export.pk}.csv"'
        return response


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "contact_id", "journey_id", "detail"]
    list_filter = ["action"]
    search_fields = ["=contact_id"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
