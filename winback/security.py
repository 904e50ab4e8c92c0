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


def rate_limit(*, key: str, limit: int, window_seconds: int = 60) -> int:
    """Count one hit for `key` in the current fixed window of the default cache. Returns 0 while
    within `limit` (0 = unlimited), else the seconds until the window ends (for Retry-After).
    With a shared cache (WINBACK_CACHE_URL=redis://...) the count is shared by every web process."""
    import time

    from django.core.cache import cache

    if limit <= 0:
        return 0
    now = int(time.time())
    window = now // window_seconds
    cache_key = f"ratelimit:{key}:{window}"
    if cache.add(cache_key, 1, timeout=window_seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=window_seconds + 1)
            count = 1
    if count <= limit:
        return 0
    return max(1, (window + 1) * window_seconds - now)
