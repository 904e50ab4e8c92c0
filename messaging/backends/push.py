"""Web push backends. Set MESSAGING_PUSH_BACKEND; WebPushBackend speaks standard Web Push with VAPID."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass

from django.conf import settings

from messaging import outbound
from messaging.backends import ProviderUnavailable, SendError, load_backend


class SubscriptionGone(SendError):
    """The push service says the subscription no longer exists (404/410): deactivate it."""


@dataclass(frozen=True)
class Push:
    endpoint: str
    p256dh: str
    auth: str
    payload: dict

    @property
    def subscription_info(self) -> dict:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class BaseBackend:
    def __init__(self, **kwargs) -> None:
        pass

    def send(self, push: Push) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def __init__(self, stream=None, **kwargs) -> None:
        self.stream = stream or sys.stdout

    def send(self, push: Push) -> None:
        self.stream.write(f"Push to {push.endpoint}:\n{json.dumps(push.payload)}\n{'-' * 40}\n")
        self.stream.flush()


outbox: list[Push] = []
_outbox_lock = threading.Lock()


class LocmemBackend(BaseBackend):
    def send(self, push: Push) -> None:
        with _outbox_lock:
            outbox.append(push)


class WebPushBackend(BaseBackend):
    """Encrypted (aes128gcm) Web Push signed with the VAPID key from MESSAGING_VAPID_PRIVATE_KEY."""

    def __init__(self, *, private_key=None, subject=None, ttl=86400, timeout=10, **kwargs) -> None:
        self.private_key = private_key or settings.MESSAGING_VAPID_PRIVATE_KEY
        self.subject = subject or settings.MESSAGING_VAPID_SUBJECT
        self.ttl = ttl
        self.timeout = timeout
        self._session = None
        if not self.private_key:
            raise SendError("Web push is not configured (MESSAGING_VAPID_PRIVATE_KEY).")

    def send(self, push: Push) -> None:
        """POST through messaging.outbound: the endpoint is checked again here (it may predate a
        rule, or come from the database), its addresses after resolution, and no redirect is
        followed. Errors carry the status and a short reason, never the push service's body."""
        from pywebpush import WebPushException, webpush

        problem = outbound.push_endpoint_problem(push.endpoint)
        if problem:
            raise SendError(f"web push refused: {problem}")
        if self._session is None:
            self._session = outbound.session()
        try:
            response = webpush(
                subscription_info=push.subscription_info,
                data=json.dumps(push.payload),
                vapid_private_key=self.private_key,
                vapid_claims={"sub": self.subject},
                ttl=self.ttl,
                timeout=self.timeout,
                requests_session=self._session,
            )
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            if status in (404, 410):
                raise SubscriptionGone(f"subscription gone (HTTP {status})") from None
            summary = outbound.response_summary(exc.response)
            if status == 429 or (status is not None and status >= 500):  # transient: retried later
                raise ProviderUnavailable(f"web push failed: {summary}") from None
            raise SendError(f"web push failed: {summary}") from None
        except outbound.OutboundRefused as exc:
            raise SendError(f"web push refused: {exc}") from None
        except Exception as exc:  # requests/crypto errors: fail this push only
            raise SendError(f"web push failed: {outbound.exception_summary(exc)}") from None
        status = getattr(response, "status_code", 201)
        if not 200 <= status < 300:  # a redirect is an answer, never followed
            raise SendError(f"web push failed: {outbound.response_summary(response)}")


def get_backend(**kwargs) -> BaseBackend:
    return load_backend(settings.MESSAGING_PUSH_BACKEND, **kwargs)
