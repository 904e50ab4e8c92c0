"""The Outbox (every Message), push subscriptions, provider events and the local mail sink."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from messaging import outbound, services
from messaging.admin.message_templates import IFRAME_STYLE, _rendered_parts
from messaging.admin.parts import CappedCountPaginator, ContactFilter, JourneyFilter, StepFilter
from messaging.mail_sink_view import received_part, untracked_html
from messaging.models import DeliveryEvent, Message, PushSubscription, ReceivedMail
from messaging.selectors import render_contexts


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
