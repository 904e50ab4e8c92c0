"""Roles as Django groups. Permissions are derived from app labels, so new models join automatically."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

MARKETER = "Marketer"
ANALYST = "Analyst"
ADMINISTRATOR = "Administrator"

# Marketers run campaigns: journeys, segments, coupons, messages, imports, contacts.
MARKETER_APPS = ("contacts", "segments", "coupons", "messaging", "journeys", "django_celery_beat")
# Analysts read everything marketing-related (and export it) but change nothing.
ANALYST_APPS = ("contacts", "segments", "coupons", "messaging", "journeys")
# Things only administrators may touch even within marketer apps.
ADMIN_ONLY_CODENAMES = ("add_apitoken", "change_apitoken", "delete_apitoken", "view_apitoken")


@transaction.atomic
def roles_sync() -> list[Group]:
    marketer_perms = Permission.objects.filter(content_type__app_label__in=MARKETER_APPS).exclude(
        codename__in=ADMIN_ONLY_CODENAMES
    )
    analyst_perms = Permission.objects.filter(
        content_type__app_label__in=ANALYST_APPS, codename__startswith="view_"
    ).exclude(codename__in=ADMIN_ONLY_CODENAMES)
    admin_perms = Permission.objects.all()
    groups = []
    for name, perms in ((MARKETER, marketer_perms), (ANALYST, analyst_perms), (ADMINISTRATOR, admin_perms)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(perms)
        groups.append(group)
    return groups


def admin_account_ensure() -> tuple[str, str | None]:
    """Create the first superuser unless one exists. Returns (username, password or None)."""
    User = get_user_model()
    username = os.environ.get("WINBACK_ADMIN_USER", "admin")
    if User.objects.filter(username=username).exists():
        return username, None
    password = os.environ.get("WINBACK_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    email = os.environ.get("WINBACK_ADMIN_EMAIL", "admin@example.com")
    user = User.objects.create_superuser(username=username, email=email, password=password)
    user.groups.add(Group.objects.get_or_create(name=ADMINISTRATOR)[0])
    return username, password
