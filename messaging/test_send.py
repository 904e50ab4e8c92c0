"""Template preview: "Send a test email" to an address the marketer types.

The email is rendered exactly as a real one (same layout, the chosen contact's data or a made-up contact),
without tracking (no pixel, no click redirects) and with "[Test]" before the subject; no Message row is
written, so reports and frequency caps never count it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import urlencode

from contacts.models import Contact
from messaging.models import Channel, MessageTemplate
from messaging.rendering import template_render
from messaging.selectors import sample_context


def template_test_send(*, template: MessageTemplate, to: str, contact: Contact | None = None) -> None:
    """Render `template` for `contact` (or a made-up one) and email it to `to`. Raises ValidationError."""
    if template.channel != Channel.EMAIL:
        raise ValidationError("Test emails are for email templates.")
    to = to.strip()
    try:
        validate_email(to)
    except ValidationError:
        raise ValidationError(f"“{to}” is not one email address.") from None
    rendered = template_render(
        template=template, context=sample_context(contact=contact), message_id=None, track=False
    )
    email = EmailMultiAlternatives(
        subject=f"[Test] {rendered.subject}",
        body=rendered.text,
        from_email=template.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    email.attach_alternative(rendered.html, "text/html")
    email.send()


def template_test_send_view(model_admin, request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=pk)
    if request.method != "POST" or not model_admin.has_change_permission(request, template):
        raise PermissionDenied
    contact = None
    contact_id = request.POST.get("contact") or ""
    if contact_id:
        if not request.user.has_perm("contacts.view_contact"):
            raise PermissionDenied
        contact = Contact.objects.filter(pk=contact_id if contact_id.isdigit() else 0).first()
    try:
        template_test_send(template=template, to=request.POST.get("to", ""), contact=contact)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except Exception as exc:  # the mail server refused or is down: say so, no 500
        messages.error(request, f"The test email could not be sent: {type(exc).__name__}: {exc}")
    else:
        messages.success(request, f"Test email sent to {request.POST.get('to', '').strip()}.")
    url = reverse("admin:messaging_messagetemplate_preview", args=[template.pk])
    return redirect(f"{url}?{urlencode({'contact': contact.pk})}" if contact else url)
