"""Message templates in the admin: validated forms and the per-contact preview."""

from __future__ import annotations

import functools

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html

from contacts.models import Contact
from messaging import services
from messaging.models import Message, MessageTemplate
from messaging.rendering import template_render
from messaging.sandbox import VARIABLES
from messaging.selectors import sample_context
from messaging.services import REQUIRED_FIELDS
from messaging.test_send import template_test_send_view


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
