"""Signed tokens in tracking, unsubscribe and subscription links (django.core.signing, one salt each).

The click token carries the target URL, so the redirect can only go where the email said:
there is no open redirect. Tokens do not expire: links in old emails keep working.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import time
import zlib
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.encoding import force_bytes

OPEN_SALT = "messaging.open"
CLICK_SALT = "messaging.click"
UNSUBSCRIBE_SALT = "messaging.unsubscribe"
PREFERENCES_SALT = "messaging.preferences"
PUSH_SUBSCRIBE_SALT = "messaging.push-subscribe"


# What signing.dumps() produces (URL-safe base64 and ":"): reverse() would leave it as it is.
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_:.-]+")
_PLACEHOLDER = "TOKEN0PLACEHOLDER"


@functools.lru_cache(maxsize=64)
def _pattern(name: str, urlconf: object, prefix: str) -> tuple[str, str]:
    head, _placeholder, tail = reverse(name, args=[_PLACEHOLDER], urlconf=urlconf).partition(_PLACEHOLDER)
    return head, tail


def _path(name: str, token: str) -> str:
    """reverse(name, args=[token]) without resolving the URL pattern for every link of every message
    (delivery builds three per email)."""
    if not _PLAIN_TOKEN.fullmatch(token):
        return reverse(name, args=[token])
    head, tail = _pattern(name, get_urlconf(), get_script_prefix())
    return f"{head}{token}{tail}"


@functools.lru_cache(maxsize=16)
def _hmac_for(salt: str, secret: str) -> hmac.HMAC:
    """Django's salted_hmac(salt + "signer", ..., secret, algorithm="sha256") before any message:
    the derived key and the HMAC's padded key state, computed once per salt and secret."""
    key = hashlib.sha256(force_bytes(f"{salt}signer") + force_bytes(secret)).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def _dumps(value: object, salt: str, *, compress: bool = False) -> str:
    """signing.dumps(value, salt=salt, compress=compress): the same token (JSON, URL-safe base64, a
    base62 timestamp, HMAC-SHA256 with the SECRET_KEY and the salt), verified by signing.loads(), with
    the key derivation done once per salt instead of once per link (delivery signs three or more per
    email)."""
    data = json.dumps(value, separators=(",", ":")).encode("latin-1")
    prefix = ""
    if compress:
        compressed = zlib.compress(data)
        if len(compressed) < len(data) - 1:
            data, prefix = compressed, "."
    payload = f"{prefix}{signing.b64_encode(data).decode()}:{signing.b62_encode(int(time.time()))}"
    mac = _hmac_for(salt, settings.SECRET_KEY).copy()
    mac.update(payload.encode())
    return f"{payload}:{signing.b64_encode(mac.digest()).decode()}"


class BadToken(Exception):
    pass


def _load(token: str, salt: str) -> object:
    try:
        return signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise BadToken(token) from None


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def open_url(message_id: int) -> str:
    token = _dumps(message_id, OPEN_SALT)
    return absolute(_path("messaging:open", token))


def open_token_load(token: str) -> int:
    value = _load(token, OPEN_SALT)
    if not isinstance(value, int):
        raise BadToken(token)
    return value


def redirect_target(url: str) -> str | None:
    """`url` if a click may redirect there: an absolute http(s) URL with a host and no whitespace,
    control characters or backslashes (javascript:, data:, //host, relative paths: None), even
    when a template author signed it."""
    if not url or "\\" in url or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        return None
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        return None
    if not url[: len(parts.scheme) + 3].lower().endswith("://"):
        return None
    return url


def click_url(message_id: int, url: str) -> str:
    token = _dumps({"m": message_id, "u": url}, CLICK_SALT, compress=True)
    return absolute(_path("messaging:click", token))


def click_token_load(token: str) -> tuple[int, str]:
    value = _load(token, CLICK_SALT)
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("m"), int)
        or not isinstance(value.get("u"), str)
    ):
        raise BadToken(token)
    return value["m"], value["u"]


def unsubscribe_url(contact_id: int, message_id: int | None = None) -> str:
    token = _dumps({"c": contact_id, "m": message_id}, UNSUBSCRIBE_SALT)
    return absolute(_path("messaging:unsubscribe", token))


def unsubscribe_token_load(token: str) -> tuple[int, int | None]:
    value = _load(token, UNSUBSCRIBE_SALT)
    if not isinstance(value, dict) or not isinstance(value.get("c"), int):
        raise BadToken(token)
    message_id = value.get("m")
    return value["c"], message_id if isinstance(message_id, int) else None


def preferences_url(contact_id: int) -> str:
    token = _dumps(contact_id, PREFERENCES_SALT)
    return absolute(_path("messaging:preferences", token))


def preferences_token_load(token: str) -> int:
    value = _load(token, PREFERENCES_SALT)
    if not isinstance(value, int):
        raise BadToken(token)
    return value


def push_subscribe_token(contact_id: int) -> str:
    """Give this to the shop's page that asks the browser for push permission."""
    return signing.dumps(contact_id, salt=PUSH_SUBSCRIBE_SALT)


def push_subscribe_token_load(token: str) -> int:
    value = _load(token, PUSH_SUBSCRIBE_SALT)
    if not isinstance(value, int):
        raise BadToken(token)
    return value
