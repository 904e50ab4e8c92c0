"""Small security wiring shared by settings: the client's IP address for login throttling."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    """REMOTE_ADDR, or behind the HTTPS proxy (BEHIND_HTTPS_PROXY) the address that proxy appended
    last to X-Forwarded-For: earlier entries are whatever the client wrote, so they are not trusted."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            try:  # the proxy writes an address; anything else came from the client
                return str(ipaddress.ip_address(forwarded[-1]))
            except ValueError:
                pass
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


# Uploaded files by folder, and the permission that may download them (others: superusers only).
MEDIA_PERMISSIONS = {"imports/": "contacts.view_importjob", "coupon-imports/": "coupons.view_codeimport"}


def media_serve(request, path: str):
    """MEDIA_ROOT files (uploaded imports hold personal data) for logged-in staff with the right
    permission only, in development too; there is no public /media/ URL."""
    import posixpath

    from django.contrib.auth.views import redirect_to_login
    from django.core.exceptions import PermissionDenied
    from django.http import Http404
    from django.views.static import serve

    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return redirect_to_login(request.get_full_path())
    # The folder the file is really in ("imports/../coupon-imports/x" is a coupon import).
    path = posixpath.normpath(path).lstrip("/")
    if path == ".." or path.startswith("../"):
        raise Http404("Not in the media folder")
    needed = next((perm for prefix, perm in MEDIA_PERMISSIONS.items() if path.startswith(prefix)), None)
    if not (user.is_superuser or (needed and user.has_perm(needed))):
        raise PermissionDenied
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Content-Disposition"] = "attachment"
    response["Cache-Control"] = "private, no-store"
    return response
