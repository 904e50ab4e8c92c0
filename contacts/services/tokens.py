"""API tokens: one per integration; only a SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from contacts.models import ApiToken

TOKEN_PREFIX = "wb_"  # noqa: S105 - a marker, not a secret


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def apitoken_create(*, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns it with the raw value, which is shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(name=name, key_hash=_hash(raw), prefix=raw[:8])
    return token, raw


def apitoken_authenticate(*, raw: str) -> ApiToken | None:
    """The active token for a raw value, or None. Marks it used (at most once a minute)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = ApiToken.objects.filter(key_hash=_hash(raw), is_active=True).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
