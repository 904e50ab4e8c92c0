"""Public endpoints: open pixel, click redirect, unsubscribe (RFC 8058 one-click), preferences,
push subscription, provider webhook. Every one is authorised by a signed token or a shared secret."""

from __future__ import annotations

import base64
import hmac
import html
import json
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.models import Contact
from messaging import outbound, services, tokens
from messaging.models import MessageTemplate

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@never_cache
@require_GET
def open_pixel(request, token: str):
    try:
        message_id = tokens.open_token_load(token)
    except tokens.BadToken:
        raise Http404("Unknown link")
    services.message_open_record(message_id=message_id)
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request, token: str):
    try:
        message_id, url = tokens.click_token_load(token)
    except tokens.BadToken:
        raise Http404("Unknown link")
    target = tokens.redirect_target(url)
    if target is None or not _click_target_allowed(message_id, target):
        return HttpResponseBadRequest("Bad link")
    services.message_click_record(message_id=message_id, url=target)
    return HttpResponseRedirect(target)


def _click_target_allowed(message_id: int, url: str) -> bool:
    """A click goes to the shop (SITE_URL's host, MESSAGING_LINK_HOSTS) or to a link written in the
    message's template itself. A host that came from contact data (a share link in an attribute)
    and is on neither is refused: a signed link must not become a redirect to anywhere."""
    host = (urlsplit(url).hostname or "").lower()
    allowed = [urlsplit(settings.SITE_URL).hostname or "", *settings.MESSAGING_LINK_HOSTS]
    if outbound.host_allowed(host, [h for h in allowed if h]):
        return True
    template = (
        MessageTemplate.objects.filter(messages__pk=message_id)
        .values("html_body", "text_body", "sms_text", "push_url")
        .first()
    )
    sources = "\n".join(template.values()) if template else ""
    # The whole link, not a prefix of a longer one (https://shop.ex inside https://shop.example.com).
    written = re.compile(re.escape(url) + r"""(?=["'\s<>]|$)""")
    return bool(written.search(sources) or written.search(html.unescape(sources)))


def _contact_or_404(contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).exclude(status=Contact.Status.ANONYMIZED).first()
    if contact is None:
        raise Http404("Unknown contact")
    return contact


@csrf_exempt  # RFC 8058: mailbox providers POST "List-Unsubscribe=One-Click" without cookies or CSRF
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    try:
        contact_id, message_id = tokens.unsubscribe_token_load(token)
    except tokens.BadToken:
        raise Http404("Unknown link")
    contact = _contact_or_404(contact_id)
    channel = services.unsubscribe_channel(contact_id=contact_id, message_id=message_id)
    context = {
        "contact": contact,
        "channel": channel,
        "what": UNSUBSCRIBE_WHAT[channel],
        "preferences_url": tokens.preferences_url(contact_id),
    }
    if request.method == "POST":
        services.contact_unsubscribe(contact_id=contact_id, message_id=message_id, channel=channel)
        return render(request, "messaging/unsubscribed.html", context)
    return render(request, "messaging/unsubscribe_confirm.html", context)


UNSUBSCRIBE_WHAT = {
    "email": "marketing emails",
    "sms": "marketing text messages (SMS)",
    "push": "browser notifications",
}


def _preference_channels(contact: Contact) -> list[dict]:
    return [
        {"name": "email", "label": "Email", "on": contact.email_consent, "available": bool(contact.email)},
        {
            "name": "sms",
            "label": "Text messages (SMS)",
            "on": contact.sms_consent,
            "available": bool(contact.phone),
        },
        {"name": "push", "label": "Browser notifications", "on": contact.push_consent, "available": True},
    ]


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token: str):
    try:
        contact_id = tokens.preferences_token_load(token)
    except tokens.BadToken:
        raise Http404("Unknown link")
    contact = _contact_or_404(contact_id)
    saved = False
    if request.method == "POST":
        if request.POST.get("everything") == "off":
            consents = {"email": False, "sms": False, "push": False}
        else:  # a disabled box is not submitted: channels not offered stay as they are
            consents = {
                channel["name"]: request.POST.get(channel["name"]) == "on"
                for channel in _preference_channels(contact)
                if channel["available"]
            }
        services.contact_preferences_update(contact_id=contact_id, consents=consents)
        contact.refresh_from_db()
        saved = True
    channels = _preference_channels(contact)
    return render(
        request, "messaging/preferences.html", {"contact": contact, "channels": channels, "saved": saved}
    )


@csrf_exempt  # called from the shop's pages with a signed contact token, not a session
@require_POST
def push_subscribe(request):
    try:
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise TypeError("expected a JSON object")
        contact_id = tokens.push_subscribe_token_load(str(data.get("token", "")))
        subscription = data["subscription"]
        endpoint = str(subscription["endpoint"])
        keys = subscription["keys"]
        p256dh, auth = keys["p256dh"], keys["auth"]
        if not isinstance(p256dh, str) or not isinstance(auth, str):
            raise TypeError("keys must be strings")
    except (ValueError, KeyError, TypeError):
        return JsonResponse(
            {"error": "expected {token, subscription: {endpoint, keys: {p256dh, auth}}}"}, status=400
        )
    except tokens.BadToken:
        return JsonResponse({"error": "bad token"}, status=403)
    problem = outbound.push_endpoint_problem(endpoint)  # no DEBUG exception: the worker checks the same
    if problem:
        return JsonResponse({"error": problem}, status=400)
    try:
        services.push_subscription_upsert(
            contact_id=contact_id,
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            user_agent=request.headers.get("User-Agent", ""),
        )
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return JsonResponse({"ok": True}, status=201)


@require_GET
def push_public_key(request):
    return JsonResponse({"public_key": settings.MESSAGING_VAPID_PUBLIC_KEY})


@csrf_exempt  # authenticated by the shared secret
@require_POST
def bounce_webhook(request):
    secret = settings.MESSAGING_WEBHOOK_SECRET
    given = request.headers.get("X-Webhook-Secret", "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return JsonResponse({"error": "forbidden"}, status=403)
    try:
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise TypeError("expected a JSON object")
        kind = str(data["type"])
        email = str(data.get("email") or "")
        message_id = data.get("message_id")
        message_id = int(message_id) if message_id not in (None, "") else None
    except (ValueError, KeyError, TypeError):
        return JsonResponse(
            {"error": 'expected {"type": "bounce"|"complaint", "email" or "message_id"}'}, status=400
        )
    if not email and message_id is None:
        return JsonResponse({"error": "email or message_id is required"}, status=400)
    try:
        event = services.delivery_event_record(kind=kind, email=email, message_id=message_id, payload=data)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return JsonResponse({"ok": True, "matched_contact": event.contact_id is not None})
