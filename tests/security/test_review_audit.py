"""Review of the audit trail: a permission given to a user directly is a role change too."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from audit.models import AuditEntry
from audit.tracking import acting_as

pytestmark = pytest.mark.django_db


def test_permissions_given_to_a_user_directly_are_recorded(admin_user, django_user_model):
    marketer = django_user_model.objects.create_user("mara", "m@example.com", "pw", is_staff=True)
    beat = Permission.objects.get(codename="add_periodictask")
    with acting_as(admin_user):
        marketer.user_permissions.add(beat)
        marketer.user_permissions.remove(beat)
    rows = AuditEntry.objects.filter(action="user.permissions", object_id=str(marketer.pk))
    assert [(r.username, r.changes) for r in rows.order_by("id")] == [
        ("admin", {"added": [str(beat)]}),
        ("admin", {"removed": [str(beat)]}),
    ]
