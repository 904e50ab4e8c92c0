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


def test_consent_rows_hold_no_personal_data(admin_user):
    """The audit trail outlives an erasure: a consent row names the contact by id, not by name or email."""
    from contacts.models import Contact

    contact = Contact.objects.create(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    with acting_as(admin_user):
        contact.email_consent = not contact.email_consent
        contact.save()
    row = AuditEntry.objects.get(action="consent.change")
    assert row.object_id == str(contact.pk)
    stored = f"{row.object_repr} {row.changes}"
    assert "Ada" not in stored and "ada@example.com" not in stored and "Lovelace" not in stored


@pytest.mark.parametrize(("action", "before", "shown"), [("deactivate", True, "1"), ("activate", False, "0")])
def test_pool_actions_are_recorded_from_a_filtered_list(admin_client, admin_user, action, before, shown):
    """The admin hands the action the changelist's filtered queryset ("active: yes"); read after the
    change, it no longer holds the pools just deactivated, and no row was written."""
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    from coupons.models import CouponPool

    pool = CouponPool.objects.create(name="Spring", offer_kind="percent", offer_value=10, is_active=before)
    admin_client.post(
        f"/admin/coupons/couponpool/?is_active__exact={shown}",
        {"action": action, ACTION_CHECKBOX_NAME: [pool.pk]},
    )
    pool.refresh_from_db()
    assert pool.is_active is not before
    rows = AuditEntry.objects.filter(action=f"pool.{action}")
    assert [(r.object_id, r.user) for r in rows] == [(str(pool.pk), admin_user)]
