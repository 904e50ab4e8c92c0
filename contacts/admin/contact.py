"""Contacts and tags in the admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.utils import timezone

from contacts.admin.mixins import ExportMixin, ImportMixin, TagFilter
from contacts.admin_privacy import ContactDataExportMixin
from contacts.models import Contact, Order, OrderLine, Tag
from contacts.paginator import LargeTablePaginator
from contacts.services.attributes import attributes_check
from contacts.services.export import contact_tag_names
from contacts.services.forget import contacts_anonymize, contacts_delete
from contacts.services.normalise import email_normalise
from contacts.signals import contacts_changed, signal_send_on_commit
from contacts.story import story_render_context

STORY_ORDERS = 10
STORY_EVENTS = 20


@admin.register(Tag)
class TagAdmin(ExportMixin, admin.ModelAdmin):
    search_fields = ["name"]
    show_full_result_count = False
    list_display = ["name"]
    export_columns = [("name", "name")]


class ContactForm(forms.ModelForm):
    """Emails are stored lower-case: compare them so, or a case variant of a stored email would
    pass validation and fail the unique constraint (a 500) when saved."""

    class Meta:
        model = Contact
        fields = ["external_id", "email"]  # the admin adds the fields of its fieldsets

    def clean_email(self):
        try:  # the same rule as imports and the API
            email = email_normalise(value=self.cleaned_data.get("email"))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        if email and Contact.objects.filter(email=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Contact with this Email already exists.")
        return email

    def clean_external_id(self):
        return (self.cleaned_data.get("external_id") or "").strip() or None

    def clean_attributes(self):
        attributes = self.cleaned_data.get("attributes")
        try:
            attributes_check(attributes)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return attributes


@admin.register(Contact)
class ContactAdmin(ContactDataExportMixin, ImportMixin, ExportMixin, admin.ModelAdmin):
    import_kind = "contacts"
    form = ContactForm
    list_display = [
        "__str__",
        "email",
        "external_id",
        "country",
        "status",
        "email_consent",
        "sms_consent",
        "created_at",
    ]
    list_filter = ["status", "email_consent", "sms_consent", "push_consent", TagFilter]
    # See get_search_results: exact email / customer id (indexed), else last name prefix.
    search_fields = ["=external_id", "=email", "^last_name"]
    ordering = ["-id"]  # newest first, by the primary key (no sort over other columns)
    show_full_result_count = False
    paginator = LargeTablePaginator
    list_per_page = 50
    autocomplete_fields = ["tags"]
    readonly_fields = [
        "email_consent_at",
        "email_consent_source",
        "sms_consent_at",
        "sms_consent_source",
        "push_consent_at",
        "push_consent_source",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["external_id", "email", "phone", ("first_name", "last_name"), "status"]}),
        ("Locale", {"fields": ["locale", "country", "timezone"]}),
        (
            "Consent",
            {
                "fields": [
                    ("email_consent", "email_consent_at", "email_consent_source"),
                    ("sms_consent", "sms_consent_at", "sms_consent_source"),
                    ("push_consent", "push_consent_at", "push_consent_source"),
                ]
            },
        ),
        (
            "More",
            {
                "fields": [
                    "tags",
                    "attributes",
                    "signed_up_at",
                    "last_activity_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    change_form_template = "admin/contacts/contact/change_form.html"
    actions = [*ExportMixin.actions, "anonymize_selected", "export_data"]
    ANONYMIZE_PREVIEW = 20  # contacts listed by name on the confirmation page
    export_columns = [
        ("external_id", "external_id"),
        ("email", "email"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("phone", "phone"),
        ("country", "country"),
        ("locale", "locale"),
        ("timezone", "timezone"),
        ("signed_up_at", "signed_up_at"),
        ("email_consent", "email_consent"),
        ("sms_consent", "sms_consent"),
        ("push_consent", "push_consent"),
        ("status", "status"),
        ("last_activity_at", "last_activity_at"),
        ("created_at", "created_at"),
        ("attributes", "attributes"),
    ]
    export_related = [("tags", contact_tag_names)]

    def get_search_results(self, request, queryset, search_term):
        """Emails starting with the term (any case; the index serves it), plus the exact customer
        id for a term with digits, or last names starting with it for other words (the only part
        no index serves)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(email__startswith=term.lower())  # emails are stored lower-case
        if any(char.isdigit() for char in term):
            match |= Q(external_id=term)
        elif "@" not in term:
            match |= Q(last_name__istartswith=term)
        return queryset.filter(match), False

    def get_object(self, request, object_id, from_field=None):
        # change_view asks once, the story below once more: fetch the contact once per request.
        cache = request.__dict__.setdefault("_contacts_fetched", {})
        key = (object_id, from_field)
        if key not in cache:
            cache[key] = super().get_object(request, object_id, from_field)
        return cache[key]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        contact = self.get_object(request, object_id)
        if contact is not None:
            # The latest orders by the (contact, placed_at) index; lines counted for those only.
            lines = (
                OrderLine.objects.filter(order=OuterRef("pk"))
                .order_by()
                .values("order")
                .annotate(count=Count("*"))
                .values("count")
            )
            orders = contact.orders.annotate(line_count=Coalesce(Subquery(lines), 0)).order_by("-placed_at")[
                :STORY_ORDERS
            ]
            extra_context.update(
                story_orders=list(orders),
                story_totals=contact.orders.exclude(status__in=Order.NOT_PURCHASES).aggregate(
                    count=Count("id"), revenue=Sum("total"), last=Max("placed_at")
                ),
                story_events=list(contact.events.order_by("-occurred_at")[:STORY_EVENTS]),
                story_sections=story_render_context(contact=contact, request=request),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Anonymize selected contacts", permissions=["delete"])
    def anonymize_selected(self, request, queryset):
        """GDPR erasure from the changelist, after a confirmation page (irreversible)."""
        queryset = queryset.exclude(status=Contact.Status.ANONYMIZED)
        if request.POST.get("post") == "yes":
            ids = list(queryset.values_list("id", flat=True))
            count = contacts_anonymize(contact_ids=ids, source=Contact.ConsentSource.ADMIN, user=request.user)
            plural = "s" if count != 1 else ""
            self.message_user(request, f"Anonymized {count} contact{plural}.", messages.SUCCESS)
            return None
        preview = list(queryset.order_by("-id")[: self.ANONYMIZE_PREVIEW + 1])
        context = {
            **self.admin_site.each_context(request),
            "title": "Anonymize contacts? This cannot be undone",
            "opts": self.model._meta,
            "preview": preview[: self.ANONYMIZE_PREVIEW],
            "more": len(preview) > self.ANONYMIZE_PREVIEW,
            "count": queryset.count() if len(preview) > self.ANONYMIZE_PREVIEW else len(preview),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action": "anonymize_selected",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/contacts/contact/anonymize_confirmation.html", context)

    def delete_model(self, request, obj):
        """Deleting is erasure: the one door (suppression, change-log scrub, audit)."""
        contacts_delete(contact_ids=[obj.pk], source=Contact.ConsentSource.ADMIN, user=request.user)

    def delete_queryset(self, request, queryset):
        ids = list(queryset.values_list("id", flat=True))
        contacts_delete(contact_ids=ids, source=Contact.ConsentSource.ADMIN, user=request.user)

    def save_model(self, request, obj, form, change):
        # Consent edited by hand is stamped like any other consent change.
        for channel in ("email", "sms", "push"):
            if f"{channel}_consent" in form.changed_data:
                setattr(obj, f"{channel}_consent_at", timezone.now())
                setattr(obj, f"{channel}_consent_source", Contact.ConsentSource.ADMIN)
        if obj.email:
            obj.email = obj.email.strip().lower()
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
        watched = {"status", "email_consent", "sms_consent", "push_consent"}
        if change and watched & set(form.changed_data):
            contact_ids = [obj.pk]
            signal_send_on_commit(contacts_changed, sender=Contact, contact_ids=contact_ids)
