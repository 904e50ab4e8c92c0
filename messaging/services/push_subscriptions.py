"""Browser push subscriptions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.timezone import now

from contacts.models import Contact
from messaging import outbound
from messaging.models import PushSubscription
from messaging.services.common import _contacts_changed_on_commit

# Browsers of one contact that get a push (older ones are deactivated when a new one subscribes).
MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT = 10
PUSH_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")


def push_endpoint_problem(endpoint: str) -> str:
    """Why the worker must not POST to this endpoint ("" if fine): messaging.outbound decides, the
    same check the admin form, the public subscribe view and the push backend run."""
    return outbound.push_endpoint_problem(endpoint)


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
