"""Pluggable SMS and web push backends, chosen by settings like Django's EMAIL_BACKEND."""

from __future__ import annotations

from django.utils.module_loading import import_string


class SendError(Exception):
    """The provider refused or could not be reached; the message fails with this text."""


class ProviderUnavailable(SendError):
    """Certainly not sent (connection refused, HTTP 429/503...): the message goes back to the
    queue with the rest of the batch and is retried later."""


class SendInDoubt(SendError):
    """The request may have reached the provider (no answer, or the connection broke after it was
    sent): the message may have gone out. Recorded "in doubt", never re-sent by itself."""


def load_backend(path: str, **kwargs):
    return import_string(path)(**kwargs)
