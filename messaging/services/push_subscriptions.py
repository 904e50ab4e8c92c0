"""Browser push subscriptions."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.timezone import now

from contacts.models import Contact
from messaging.models import PushSubscription
from messaging.services.common import _contacts_changed_on_commit

# Browsers of one contact that get a push (older ones are deactivated when a new one subscribes).
MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT = 10
PUSH_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")


def push_endpoint_problem(endpoint: str) -> str:
    """Why the worker must not POST to this endpoint ("" if fine): anyone holding a contact's
    subscribe token chooses it, so only https on a public host name (no IP literals, no local
    names, no credentials). With DEBUG, http://127.0.0.1 and localhost work for development."""
    if len(endpoint) > 1000:
        return "The push endpoint is too long."
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "The push endpoint is not a valid URL."
    if settings.DEBUG and parts.scheme in ("http", "https") and host in ("127.0.0.1", "localhost"):
        return ""
    labels = host.split(".")
    if (
        parts.scheme != "https"
        or not host
        or parts.username is not None
        or len(labels) < 2
        or not labels[-1].isalpha()  # IP literals, 2130706433, 0x7f000001, [::1]
        or host.endswith(PUSH_LOCAL_SUFFIXES)
    ):
        return "A push endpoint must be an https URL on a push service's public host name."
    if not _push_host_allowed(host):
        return "The push endpoint's host is not a known push service (MESSAGING_PUSH_ENDPOINT_HOSTS)."
    return ""


def _push_host_allowed(host: str) -> bool:
    """Host names resolve anywhere; an allowlist of push services closes the SSRF gap."""
    for pattern in settings.MESSAGING_PUSH_ENDPOINT_HOSTS:
        if pattern == "*" or host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def push_subscription_upsert(
    *, contact_id: int, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> PushSubscription:
    """Store (or move/reactivate) a browser subscription; granting permission is push consent."""
    problem = push_endpoint_problem(endpoint)
    if problem:
        raise ValidationError(problem)
    if not p256dh or not auth or len(p256dh) > 200 or len(auth) > 100:
        raise ValidationError("The subscription keys (p256dh, auth) are missing or too long.")
    if not Contact.objects.filter(pk=contact_id).exclude(status=Contact.Status.ANONYMIZED).exists():
        raise ValidationError("Unknown contact.")
    moment = now()
    with transaction.atomic():
        subscription, _created = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={
                "contact_id": contact_id,
                "p256dh": p256dh,
                "auth": auth,
                "user_agent": user_agent[:300],
                "active": True,
            },
        )
        others = PushSubscription.objects.filter(contact_id=contact_id, active=True).exclude(
            pk=subscription.pk
        )
        kept = list(
            others.order_by("-created_at", "-id").values_list("id", flat=True)[
                : MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT - 1
            ]
        )
        others.exclude(id__in=kept).update(active=False)
        changed = Contact.objects.filter(pk=contact_id, push_consent=False).update(
            push_consent=True,
            push_consent_at=moment,
            push_consent_source=Contact.ConsentSource.API,
            updated_at=moment,
        )
        if changed:
            _contacts_changed_on_commit([contact_id])
    return subscription
