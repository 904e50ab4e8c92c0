"""Roles as Django groups. Permissions are derived from app labels, so new models join automatically."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q, QuerySet

MARKETER = "Marketer"
ANALYST = "Analyst"
ADMINISTRATOR = "Administrator"

# Marketers run campaigns: journeys, segments, coupons, messages, imports, contacts. Periodic tasks
# (django_celery_beat) are administrators' only: a row there runs any registered task with any
# arguments. Journeys create and remove their own schedules through journey services.
MARKETER_APPS = ("contacts", "segments", "coupons", "messaging", "journeys")
# Analysts read (and export) everything marketing-related but change nothing.
ANALYST_APPS = ("contacts", "segments", "coupons", "messaging", "journeys")
# Things only administrators may touch even within marketer apps.
ADMIN_ONLY_CODENAMES = ("add_apitoken", "change_apitoken", "delete_apitoken", "view_apitoken")
# Records the system writes as evidence (what was sent, what providers reported, score history,
# step runs, audit rows, suppression of erased people): marketers may look, never delete.
EVIDENCE_MODELS = (
    "message",
    "deliveryevent",
    "scorechange",
    "contactscore",
    "scoringrun",
    "segmentsize",
    "steprun",
    "conversion",
    "entryrun",
    "auditlog",
    "auditentry",
    "poolcounterdelta",
)
# ... and of those, the ones marketers may not add or edit either (the admin allows no edits anyway).
EVIDENCE_READ_ONLY = ("deliveryevent", "scorechange", "contactscore", "steprun", "auditlog", "auditentry")
# Suppression rows (erased people): any model whose name starts with this (the contacts app's).
SUPPRESSION_PREFIX = "suppress"
# The audit trail is append-only: no group may change or delete it (superusers only, in the admin).
AUDIT_CODENAMES = ("add_auditentry", "change_auditentry", "delete_auditentry")


def _protected() -> Q:
    """Permissions marketers never get inside their apps."""
    return (
        Q(codename__in=ADMIN_ONLY_CODENAMES)
        | Q(codename__startswith="delete_", content_type__model__in=EVIDENCE_MODELS)
        | Q(codename__startswith="delete_", content_type__model__startswith=SUPPRESSION_PREFIX)
        | Q(codename__regex=r"^(add|change)_", content_type__model__in=EVIDENCE_READ_ONLY)
    )


def role_permissions() -> dict[str, QuerySet[Permission]]:
    """The permissions each role gets (see the README's roles table)."""
    marketer = (
        Permission.objects.filter(content_type__app_label__in=MARKETER_APPS)
        .exclude(_protected())
        .exclude(codename__in=AUDIT_CODENAMES)
    )
    analyst = Permission.objects.filter(
        content_type__app_label__in=ANALYST_APPS, codename__startswith="view_"
    ).exclude(codename__in=ADMIN_ONLY_CODENAMES)
    administrator = Permission.objects.exclude(codename__in=AUDIT_CODENAMES)
    return {MARKETER: marketer, ANALYST: analyst, ADMINISTRATOR: administrator}


@transaction.atomic
def roles_sync() -> list[Group]:
    """Create the groups and set their permissions to exactly role_permissions() (idempotent)."""
    groups = []
    for name, perms in role_permissions().items():
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
