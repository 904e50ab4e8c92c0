"""Admin for personal-data requests: the suppression list (lift for one person, with a reason) and
"Export this contact's data" (access request). Thin: every write goes through a service."""

from __future__ import annotations

import io
import zipfile

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from contacts.models import Contact, Suppression
from contacts.services.access_export import contact_data_export_json
from contacts.services.suppression import SuppressionLiftError, suppression_lift

EXPORT_MAX = 100  # contacts per ZIP from the changelist action


class LiftForm(forms.Form):
    email = forms.CharField(required=False, max_length=254, help_text="The person's email address.")
    phone = forms.CharField(required=False, max_length=40, help_text="Or their phone number.")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
        help_text="Why this person may be imported again (e.g. 'Signed up again in the shop on 2026-05-02, "
        "ticket 1234'). Recorded in the audit log.",
    )


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["kind", "erased_at", "mode", "source", "lifted_at", "lifted_by", "lift_reason"]
    list_filter = ["kind", "mode", ("lifted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["lifted_by"]
    show_full_result_count = False
    change_list_template = "admin/contacts/suppression/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("lift/", self.admin_site.admin_view(self.lift_view), name="contacts_suppression_lift"),
        ] + super().get_urls()

    def lift_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("contacts.change_suppression"):
            raise PermissionDenied
        form = LiftForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                count = suppression_lift(
                    email=form.cleaned_data["email"],
                    phone=form.cleaned_data["phone"],
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                )
            except SuppressionLiftError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Suppression lifted ({count} entr{'y' if count == 1 else 'ies'}).")
                return HttpResponseRedirect(reverse("admin:contacts_suppression_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Lift the suppression of one erased person",
            "form": form,
        }
        return TemplateResponse(request, "admin/contacts/suppression/lift.html", context)


class ContactDataExportMixin:
    """ "Export this contact's data": a button on the contact page and a changelist action."""

    def get_urls(self):
        return [
            path(
                "<int:contact_id>/export-data/",
                self.admin_site.admin_view(self.data_export_view),
                name="contacts_contact_export_data",
            )
        ] + super().get_urls()

    def data_export_view(self, request: HttpRequest, contact_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        contact = get_object_or_404(Contact, pk=contact_id)
        response = HttpResponse(
            contact_data_export_json(contact=contact, user=request.user), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}-data.json"'
        return response

    @admin.action(description="Export the selected contacts' data (access request)", permissions=["view"])
    def export_data(self, request, queryset):
        contacts = list(queryset.order_by("pk")[: EXPORT_MAX + 1])
        if len(contacts) > EXPORT_MAX:
            self.message_user(request, f"Select at most {EXPORT_MAX} contacts.", messages.ERROR)
            return None
        if len(contacts) == 1:
            return self.data_export_view(request, contacts[0].pk)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for contact in contacts:
                archive.writestr(
                    f"contact-{contact.pk}-data.json",
                    contact_data_export_json(contact=contact, user=request.user),
                )
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="contacts-data.zip"'
        return response
