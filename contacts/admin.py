"""Admin for contacts, catalogue, orders, events, imports and API tokens.

Changelists are built for 1M+ rows: no full counts, a bounded paginator, related rows
joined (list_select_related), no per-row queries. Writes go through services.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from contacts.admin_privacy import ContactDataExportMixin
from contacts.importing.formats import formats
from contacts.importing.schema import FIELDS
from contacts.models import ApiToken, Contact, Event, ImportJob, Order, OrderLine, Product, Tag
from contacts.paginator import LargeTablePaginator
from contacts.services.attributes import attributes_check
from contacts.services.export import contact_tag_names, csv_stream, rows_export, xlsx_file
from contacts.services.forget import contacts_anonymize, contacts_delete
from contacts.services.imports import (
    import_job_create,
    import_job_enqueue,
    import_job_preview,
    import_job_run,
    import_job_runs_in_background,
)
from contacts.services.normalise import email_normalise
from contacts.services.tokens import apitoken_create
from contacts.services.uploads import upload_size_validator
from contacts.signals import contacts_changed, signal_send_on_commit
from contacts.story import story_render_context

STORY_ORDERS = 10
STORY_EVENTS = 20
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


@admin.register(Product)
class ProductAdmin(ImportMixin, ExportMixin, admin.ModelAdmin):
    import_kind = "products"
    list_display = ["sku", "name", "category", "brand", "price"]
    list_filter = ["category", "brand"]
    search_fields = ["=sku", "name"]
    ordering = ["-id"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    export_columns = [(f, f) for f in ("sku", "name", "category", "brand", "price", "url", "image_url")]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    autocomplete_fields = ["product"]
    fields = ["product", "sku", "quantity", "unit_price"]


@admin.register(Order)
class OrderAdmin(ExactContactSearchMixin, ImportMixin, ExportMixin, admin.ModelAdmin):
    import_kind = "orders"
    list_display = ["external_id", "contact", "placed_at", "total", "currency", "status", "coupon_code"]
    list_select_related = ["contact"]
    list_filter = ["status", "placed_at"]
    exact_search_fields = ("external_id", "coupon_code")
    ordering = ["-id"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    autocomplete_fields = ["contact"]
    inlines = [OrderLineInline]
    export_columns = [
        ("order_id", "external_id"),
        ("customer_id", "contact__external_id"),
        ("email", "contact__email"),
        ("placed_at", "placed_at"),
        ("status", "status"),
        ("currency", "currency"),
        ("total", "total"),
        ("coupon_code", "coupon_code"),
    ]


@admin.register(Event)
class EventAdmin(ExactContactSearchMixin, ExportMixin, admin.ModelAdmin):
    list_display = ["kind", "contact", "occurred_at", "external_id"]
    list_select_related = ["contact"]
    list_filter = ["kind", "occurred_at"]
    exact_search_fields = ("external_id",)
    ordering = ["-id"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    autocomplete_fields = ["contact"]
    export_columns = [
        ("external_id", "external_id"),
        ("customer_id", "contact__external_id"),
        ("email", "contact__email"),
        ("kind", "kind"),
        ("occurred_at", "occurred_at"),
        ("message_id", "message_id"),
    ]


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
