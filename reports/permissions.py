"""Which parts of the reports a user may see: each figure needs view permission on the data behind it."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

AUDIENCE = "contacts.view_contact"
JOURNEYS = "journeys.view_journey"
MESSAGES = "messaging.view_message"
COUPONS = "coupons.view_couponpool"

# dashboard part -> permission it needs
DASHBOARD_PARTS = {"audience": AUDIENCE, "journeys": JOURNEYS, "messages": MESSAGES, "coupons": COUPONS}
# dashboard CSV table -> part
DASHBOARD_TABLES = {
    "stages": "audience",
    "segments": "audience",
    "journeys": "journeys",
    "messages": "messages",
}


def dashboard_parts(user: AbstractBaseUser | AnonymousUser) -> dict[str, bool]:
    return {part: user.has_perm(perm) for part, perm in DASHBOARD_PARTS.items()}
