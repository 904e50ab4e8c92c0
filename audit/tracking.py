"""Automatic audit rows for the objects people edit: journeys, segments, pools, templates, contacts'
consents, roles (groups and their permissions) and users' roles.

A post_init snapshot of the tracked fields (no extra query) is compared at post_save; a row is written
when something changed and a person is acting: the user of the current request (set by
AuditContextMiddleware) or of `acting_as(...)` (commands). Changes by the system (workers, bulk
updates) are recorded by their services with explicit audit_record() calls instead.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any

from django.db.models import signals

_user: contextvars.ContextVar = contextvars.ContextVar("audit_user", default=None)
_source: contextvars.ContextVar = contextvars.ContextVar("audit_source", default="")

# label -> (action prefix, fields; None = every editable concrete field)
TRACKED: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "journeys.journey": ("journey", None),
    "segments.segment": ("segment", ("name", "description", "rules")),
    "coupons.couponpool": ("pool", None),
    "messaging.messagetemplate": ("template", None),
    "contacts.contact": ("consent", ("email_consent", "sms_consent", "push_consent")),
    "auth.group": ("role", ("name",)),
    "auth.user": ("user", ("username", "is_active", "is_staff", "is_superuser")),
}
ALWAYS = ("status", "current_version")  # not editable in forms, changed by actions: still tracked
NEVER = ("password", "last_login", "updated_at", "created_at")


def current_user():
    user = _user.get()
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def current_source() -> str:
    return _source.get()


@contextlib.contextmanager
def acting_as(user, source: str = "command"):
    """Attribute the changes made inside to `user` (management commands, scripts)."""
    user_token, source_token = _user.set(user), _source.set(source)
    try:
        yield
    finally:
        _user.reset(user_token)
        _source.reset(source_token)


class AuditContextMiddleware:
    """Makes request.user the acting user of the audit rows written while the request runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = "admin" if request.path.startswith("/admin/") else "web"
        user_token = _user.set(getattr(request, "user", None))
        source_token = _source.set(source)
        try:
            return self.get_response(request)
        finally:
            _user.reset(user_token)
            _source.reset(source_token)


def _fields(model) -> tuple[str, ...]:
    prefix, names = TRACKED[model._meta.label_lower]
    if names is not None:
        return names
    cached = getattr(model, "_audit_fields", None)
    if cached is None:
        cached = tuple(
            f.attname
            for f in model._meta.concrete_fields
            if (f.editable or f.name in ALWAYS) and not f.primary_key and f.name not in NEVER
        )
        model._audit_fields = cached
    return cached


def _snapshot(instance) -> dict[str, Any]:
    """The tracked values that are loaded (deferred fields are left out, not taken as None)."""
    values = instance.__dict__
    return {name: values[name] for name in _fields(type(instance)) if name in values}


def on_init(sender, instance, **kwargs) -> None:
    if instance.pk is not None:
        instance._audit_before = _snapshot(instance)


def on_save(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    user = current_user()
    after = _snapshot(instance)
    before = getattr(instance, "_audit_before", None)
    instance._audit_before = after
    if user is None:
        return
    from audit.services import audit_record

    prefix = TRACKED[sender._meta.label_lower][0]
    if created or before is None:
        if prefix == "consent":
            return  # a new contact's consents are in its consent history, not an edit
        audit_record(
            user=user, action=f"{prefix}.add", obj=instance, changes={k: [None, v] for k, v in after.items()}
        )
        return
    changes = {k: [before[k], v] for k, v in after.items() if k in before and before[k] != v}
    if changes:
        # A contact is named by id: the trail outlives an erasure, so no name or email in it.
        name = f"Contact {instance.pk}" if prefix == "consent" else ""
        audit_record(user=user, action=f"{prefix}.change", obj=instance, changes=changes, object_repr=name)


def on_delete(sender, instance, **kwargs) -> None:
    user = current_user()
    prefix = TRACKED[sender._meta.label_lower][0]
    if user is None or prefix == "consent":
        return  # a contact's deletion is an erasure, recorded by its service
    from audit.services import audit_record

    audit_record(user=user, action=f"{prefix}.delete", obj=instance, changes=_snapshot(instance))


def on_m2m(sender, instance, action, model, pk_set, reverse, **kwargs) -> None:
    """Group permissions and user groups: which were added or removed."""
    if action not in ("post_add", "post_remove", "post_clear") or reverse:
        return
    user = current_user()
    if user is None:
        return
    from audit.services import audit_record

    names = sorted(str(o) for o in model.objects.filter(pk__in=pk_set or ()))
    verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
    field = "permissions" if model._meta.model_name == "permission" else "groups"
    prefix = "role" if instance._meta.model_name == "group" else "user"
    audit_record(user=user, action=f"{prefix}.{field}", obj=instance, changes={verb: names})


def connect() -> None:
    from django.apps import apps
    from django.contrib.auth.models import Group, User

    for label in TRACKED:
        model = apps.get_model(label)
        uid = f"audit:{label}"
        signals.post_init.connect(on_init, sender=model, dispatch_uid=uid)
        signals.post_save.connect(on_save, sender=model, dispatch_uid=uid)
        signals.post_delete.connect(on_delete, sender=model, dispatch_uid=uid)
    signals.m2m_changed.connect(on_m2m, sender=Group.permissions.through, dispatch_uid="audit:group-perms")
    signals.m2m_changed.connect(on_m2m, sender=User.groups.through, dispatch_uid="audit:user-groups")
    signals.m2m_changed.connect(
        on_m2m, sender=User.user_permissions.through, dispatch_uid="audit:user-permissions"
    )
