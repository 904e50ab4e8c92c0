"""Messaging in the admin: templates (validated, with a per-contact preview), the Outbox (every
Message, query-budgeted for millions of rows), push subscriptions, provider events and the local
mail sink. Writes go through messaging.services."""

from __future__ import annotations

import functools
from functools import cached_property

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.utils.text import Truncator

from contacts.models import Contact
from messaging import outbound, services
from messaging.mail_sink_view import received_part, untracked_html
from messaging.models import DeliveryEvent, Message, MessageTemplate, PushSubscription, ReceivedMail
from messaging.rendering import template_render
from messaging.sandbox import VARIABLES
from messaging.selectors import render_contexts, sample_context
from messaging.services import REQUIRED_FIELDS
from messaging.test_send import template_test_send_view


class CappedCountPaginator(Paginator):
    """COUNT(*) over millions of messages is slow on PostgreSQL: count at most CAP rows."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


class InputFilter(admin.SimpleListFilter):
    """A filter with a text box (e.g. journey id) instead of a list of every value in the table."""

    template = "admin/messaging/input_filter.html"

    def lookups(self, request, model_admin):
        return ((None, None),)  # the filter only shows when it has choices

    def choices(self, changelist):
        query = {k: v for k, v in changelist.get_filters_params().items() if k != self.parameter_name}
        yield {"query_params": query, "parameter_name": self.parameter_name, "value": self.value() or ""}

    def queryset(self, request, queryset):
        value = self.value()
        if value is None or value == "":
            return queryset
        try:
            return queryset.filter(**{self.parameter_name: int(value)})
        except (TypeError, ValueError):
            return queryset.none()


class JourneyFilter(InputFilter):
    title = "journey id"
    parameter_name = "journey_id"


class StepFilter(InputFilter):
    title = "step id"
    parameter_name = "step_id"


class ContactFilter(InputFilter):
    title = "contact id"
    parameter_name = "contact_id"


# --- Templates -------------------------------------------------------------------------------


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = [
            "name",
            "channel",
            "from_email",
            "subject",
            "html_body",
            "text_body",
            "sms_text",
            "push_title",
            "push_body",
            "push_url",
        ]
        widgets = {
            "html_body": forms.Textarea(attrs={"rows": 18, "cols": 100, "style": "font-family: monospace"}),
            "text_body": forms.Textarea(attrs={"rows": 8, "cols": 100, "style": "font-family: monospace"}),
            "sms_text": forms.Textarea(attrs={"rows": 3, "cols": 100}),
            "push_body": forms.Textarea(attrs={"rows": 3, "cols": 100}),
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = MessageTemplate(**{name: cleaned.get(name, "") for name in self.Meta.fields})
        for field, problems in services.message_template_problems(template=candidate).items():
            for problem in problems:
                self.add_error(field, problem)
        return cleaned


class PreviewForm(forms.Form):
    contact = forms.ModelChoiceField(queryset=Contact.objects.all(), required=False)

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        contact_admin = admin_site._registry.get(Contact)
        if contact_admin is not None and contact_admin.search_fields:
            from django.contrib.admin.widgets import AutocompleteSelect

            widget = AutocompleteSelect(Message._meta.get_field("contact"), admin_site)
        else:  # contacts admin without search: type the id
            widget = forms.NumberInput(attrs={"placeholder": "Contact id"})
        self.fields["contact"] = forms.ModelChoiceField(
            queryset=Contact.objects.all(),
            required=False,
            widget=widget,
            help_text="Empty: a made-up contact (Alex Example).",
        )


def _rendered_parts(template: MessageTemplate, context: dict, *, message_id=None, track=False) -> dict:
    try:
        rendered = template_render(template=template, context=context, message_id=message_id, track=track)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"rendered": rendered}


TEMPLATE_HELP = (
    "Django template syntax. Variables: "
    + ", ".join(f"{{{{ {name} }}}}" for name in VARIABLES)
    + ". Contact: contact.first_name, contact.last_name, contact.email, contact.attributes.<name>. "
    "Products: {% for p in recommendations %}{{ p.name }} {{ p.url }}{% endfor %} "
    "(also bought_again, new_arrivals, best_sellers). Coupon: coupon.code, coupon.expires_at."
)
IFRAME_STYLE = "width:100%;min-width:40rem;height:32rem;border:1px solid #ccc"


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["name", "channel", "subject", "updated_at", "preview_link"]
    list_filter = ["channel"]
    search_fields = ["name", "subject"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "channel"]}),
        (
            "Email",
            {
                "fields": ["from_email", "subject", "html_body", "text_body"],
                "description": TEMPLATE_HELP,
            },
        ),
        ("SMS", {"fields": ["sms_text"]}),
        ("Web push", {"fields": ["push_title", "push_body", "push_url"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Preview")
    def preview_link(self, obj):
        return format_html(
            '<a href="{}">Preview</a>', reverse("admin:messaging_messagetemplate_preview", args=[obj.pk])
        )

    def save_model(self, request, obj, form, change):
        services.message_template_save(template=obj)

    def get_urls(self):
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="messaging_messagetemplate_preview",
            ),
            path(
                "<int:pk>/send-test/",
                self.admin_site.admin_view(functools.partial(template_test_send_view, self)),
                name="messaging_messagetemplate_send_test",
            ),
            path(
                "preview-draft/",
                self.admin_site.admin_view(self.preview_draft_view),
                name="messaging_messagetemplate_preview_draft",
            ),
            *super().get_urls(),
        ]

    def preview_draft_view(self, request):
        """htmx: render the change form's current (unsaved) fields for a made-up contact."""
        if request.method != "POST" or not (
            self.has_add_permission(request) or self.has_change_permission(request)
        ):
            raise PermissionDenied
        fields = MessageTemplateForm.Meta.fields
        draft = MessageTemplate(**{name: request.POST.get(name, "") for name in fields})
        if draft.channel not in REQUIRED_FIELDS:
            draft.channel = "email"
        problems = services.message_template_problems(template=draft)
        context = {"template_obj": draft, "contact": None, "problems": problems}
        if not problems:
            context.update(_rendered_parts(draft, sample_context()))
        response = TemplateResponse(request, "admin/messaging/messagetemplate/_preview.html", context)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def preview_view(self, request, pk: int):
        template = get_object_or_404(MessageTemplate, pk=pk)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        form = PreviewForm(request.GET or None, admin_site=self.admin_site)
        contact = None
        if form.is_bound and form.is_valid():
            contact = form.cleaned_data["contact"]
        if contact is not None and not request.user.has_perm("contacts.view_contact"):
            raise PermissionDenied  # a real contact's data needs the right to see contacts
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": template,
            "template_obj": template,
            "form": form,
            "contact": contact,
            "title": f"Preview: {template.name}",
            **_rendered_parts(template, sample_context(contact=contact)),
        }
        name = "_preview.html" if request.htmx else "preview.html"
        response = TemplateResponse(request, f"admin/messaging/messagetemplate/{name}", context)
        patch_vary_headers(response, ["HX-Request"])
        return response


# --- Outbox ----------------------------------------------------------------------------------


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "contact",
        "channel",
        "template",
        "status",
        "short_reason",
        "journey_id",
        "step_id",
        "created_at",
        "sent_at",
        "opened",
        "clicked",
        "view_link",
    ]
    list_filter = ["status", "channel", JourneyFilter, StepFilter, ContactFilter, "template"]
    list_select_related = ["contact", "template"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    ordering = ["-id"]
    raw_id_fields = ["contact", "template"]
    actions = ["deliver_now", "retry_failed"]
    readonly_fields = [f.name for f in Message._meta.fields if f.name not in ("id",)]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(60)

    @admin.display(boolean=True, ordering="opened_at")
    def opened(self, obj):
        return obj.opened_at is not None

    @admin.display(boolean=True, ordering="clicked_at")
    def clicked(self, obj):
        return obj.clicked_at is not None

    @admin.display(description="")
    def view_link(self, obj):
        return format_html(
            '<a href="{}">View</a>', reverse("admin:messaging_message_rendered", args=[obj.pk])
        )

    def has_deliver_permission(self, request) -> bool:
        # The outbox is read-only; handing queued messages to delivery needs the change permission.
        return request.user.has_perm("messaging.change_message")

    @admin.action(description="Deliver selected queued messages now", permissions=["deliver"])
    def deliver_now(self, request, queryset):
        ids = list(queryset.filter(status=Message.Status.QUEUED).values_list("id", flat=True)[:10_000])
        services.messages_deliver_later(message_ids=ids)
        self.message_user(request, f"{len(ids)} queued message(s) handed to the worker.", messages.SUCCESS)

    @admin.action(description="Retry failed and in-doubt messages", permissions=["deliver"])
    def retry_failed(self, request, queryset):
        """Back to the queue and to delivery. An in-doubt email may have arrived: it is sent again with
        the same Message-ID, which receivers that deduplicate use to drop the second copy."""
        ids = list(
            queryset.filter(status__in=services.RETRYABLE).values_list("id", flat=True)[: self.RETRY_LIMIT]
        )
        queued = services.messages_retry(message_ids=ids)
        skipped = queryset.exclude(status__in=services.RETRYABLE)[:1].exists()
        note = (
            " Only failed and in-doubt messages are retried; the others were left alone." if skipped else ""
        )
        self.message_user(
            request, f"{len(queued)} failed or in-doubt message(s) queued again.{note}", messages.SUCCESS
        )

    RETRY_LIMIT = 10_000

    def get_urls(self):
        return [
            path(
                "<int:pk>/rendered/",
                self.admin_site.admin_view(self.rendered_view),
                name="messaging_message_rendered",
            ),
            *super().get_urls(),
        ]

    def rendered_view(self, request, pk: int):
        message = get_object_or_404(Message.objects.select_related("contact", "template"), pk=pk)
        if not self.has_view_permission(request, message):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": message,
            "message": message,
            "title": f"Message #{message.pk}",
        }
        if message.template is None:
            context["error"] = "The template was deleted."
        else:
            contexts = render_contexts(messages=[message])
            context.update(
                _rendered_parts(message.template, contexts[message.pk], message_id=message.pk, track=False)
            )
        return TemplateResponse(request, "admin/messaging/message/rendered.html", context)


class PushSubscriptionForm(forms.ModelForm):
    def clean_endpoint(self):
        endpoint = self.cleaned_data["endpoint"]
        problem = outbound.push_endpoint_problem(endpoint)  # the worker would refuse it too
        if problem:
            raise forms.ValidationError(problem)
        return endpoint


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    form = PushSubscriptionForm
    list_display = ["id", "contact", "short_endpoint", "active", "created_at", "last_success_at"]
    list_filter = ["active"]
    list_select_related = ["contact"]
    raw_id_fields = ["contact"]
    show_full_result_count = False

    @admin.display(description="Endpoint")
    def short_endpoint(self, obj):
        return Truncator(obj.endpoint).chars(70)


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "kind", "email", "message_id", "contact"]
    list_filter = ["kind"]
    list_select_related = ["contact"]
    raw_id_fields = ["contact", "message"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReceivedMail)
class ReceivedMailAdmin(admin.ModelAdmin):
    """What `manage.py mail_sink` caught: the emails exactly as they left (development)."""

    list_display = ["received_at", "subject", "recipients", "mail_from"]
    search_fields = ["subject", "recipients"]
    readonly_fields = [
        "received_at",
        "mail_from",
        "recipients",
        "subject",
        "message_id",
        "html_part",
        "text_part",
    ]
    exclude = ["raw"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="HTML")
    def html_part(self, obj):
        # Never loads the open pixel or a click-tracking link (messaging.mail_sink_view).
        body = untracked_html(received_part(obj.raw, "html"))
        return format_html('<iframe sandbox="" srcdoc="{}" style="{}"></iframe>', body, IFRAME_STYLE)

    @admin.display(description="Text")
    def text_part(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", received_part(obj.raw, "plain"))
