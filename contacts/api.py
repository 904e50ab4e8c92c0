"""JSON API for shops: POST contacts, orders and events (one object or a list).

`Authorization: Bearer <token>`; same validation as the CSV import; all or nothing per
request; idempotent by external id. See README, section api.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from contacts.importing import records_import
from contacts.models import Contact
from contacts.services.tokens import apitoken_authenticate
from winback.security import rate_limit  # per token; 429 + Retry-After

MAX_BODY_BYTES_DEFAULT = 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE default
MAX_ITEMS = 5000


def _error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _endpoint(kind: str):
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> JsonResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        token = apitoken_authenticate(raw=raw.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            response = _error(401, "A valid API token is required (Authorization: Bearer <token>).")
            response["WWW-Authenticate"] = 'Bearer realm="winback"'
            return response
        per_minute = settings.WINBACK_API_RATE_PER_MINUTE
        retry_after = rate_limit(key=f"api-token:{token.key_hash[:16]}", limit=per_minute)
        if retry_after:
            response = _error(429, f"Too many requests: at most {per_minute} a minute.")
            response["Retry-After"] = str(retry_after)
            return response
        limit = min(
            getattr(settings, "WINBACK_API_MAX_BODY_BYTES", MAX_BODY_BYTES_DEFAULT),
            settings.DATA_UPLOAD_MAX_MEMORY_SIZE or MAX_BODY_BYTES_DEFAULT,
        )
        too_big = _error(413, f"The request body is larger than {limit} bytes; send smaller batches.")
        length = request.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > limit:
            return too_big
        try:
            payload = json.loads(request.body or b"null")
        except RequestDataTooBig:
            return too_big
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
            return _error(400, "The body is not valid JSON.")
        items = payload if isinstance(payload, list) else [payload]
        if not items or not all(isinstance(i, dict) for i in items):
            return _error(400, "Send one JSON object or a list of objects.")
        if len(items) > MAX_ITEMS:
            return _error(413, f"At most {MAX_ITEMS} objects per request.")
        result = records_import(kind=kind, records=items, source=Contact.ConsentSource.API)
        if not result.ok:
            return _error(
                400, "Nothing was saved: fix the errors and send the request again.", errors=result.errors
            )
        body = {"received": len(items), "created": result.created, "updated": result.updated}
        if result.skipped_count:  # erased people: not saved, one entry per object
            body.update(skipped=result.skipped_count, skipped_items=result.skipped)
        return JsonResponse(body)

    view.__name__ = f"{kind}_post"
    return view


contacts_post = _endpoint("contacts")
orders_post = _endpoint("orders")
events_post = _endpoint("events")
