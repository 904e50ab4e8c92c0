"""One size limit for every upload (contact imports, coupon code imports): WINBACK_UPLOAD_MAX_BYTES."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError


class UploadTooLarge(ValueError):
    """The file is larger than WINBACK_UPLOAD_MAX_BYTES; the message says by how much."""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MB"


def upload_size_check(*, size: int | None) -> None:
    limit = settings.WINBACK_UPLOAD_MAX_BYTES
    if size is not None and size > limit:
        raise UploadTooLarge(
            f"The file is {_megabytes(size)}; uploads are limited to {_megabytes(limit)}. Split it into "
            "smaller files (each is imported all or nothing), or ask an administrator to raise "
            "WINBACK_UPLOAD_MAX_BYTES."
        )


def upload_size_validator(upload) -> None:
    """For forms.FileField(validators=[...]): the same check as a form error."""
    try:
        upload_size_check(size=getattr(upload, "size", None))
    except UploadTooLarge as exc:
        raise ValidationError(str(exc), code="too_large") from None
