"""Small security wiring shared by settings: the client's IP address for login throttling."""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str:
    """REMOTE_ADDR, or behind the HTTPS proxy (BEHIND_HTTPS_PROXY) the address that proxy appended
    last to X-Forwarded-For: earlier entries are whatever the client wrote, so they are not trusted."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "")
