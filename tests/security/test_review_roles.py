"""Review of the roles: an Administrator must not be able to become a superuser (only superusers
delete audit rows, README roles table), neither by ticking the box nor by taking over a superuser."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from contacts.services.roles import ADMINISTRATOR, roles_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(django_user_model):
    roles_sync()
    user = django_user_model.objects.create_user("boss", "boss@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=ADMINISTRATOR))
    client = Client()
    client.force_login(user)
    return client, user


def test_an_administrator_cannot_make_himself_superuser(administrator):
    client, user = administrator
    url = f"/admin/auth/user/{user.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    data = {
        "username": "boss",
        "email": "boss@example.com",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [g.pk for g in user.groups.all()],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    client.post(url, data)
    user.refresh_from_db()
    assert not user.is_superuser


def test_an_administrator_cannot_take_over_a_superuser(administrator, admin_user):
    client, _user = administrator
    response = client.post(
        f"/admin/auth/user/{admin_user.pk}/password/",
        {"password1": "Take-0ver-now!", "password2": "Take-0ver-now!", "usable_password": "true"},
    )
    assert response.status_code == 403
    admin_user.refresh_from_db()
    assert not admin_user.check_password("Take-0ver-now!")
    assert client.post(f"/admin/auth/user/{admin_user.pk}/delete/", {"post": "yes"}).status_code == 403
    assert type(admin_user).objects.filter(pk=admin_user.pk).exists()


def test_a_superuser_still_manages_superusers(admin_client, django_user_model):
    other = django_user_model.objects.create_superuser("root2", "r@example.com", "pw")
    response = admin_client.post(
        f"/admin/auth/user/{other.pk}/password/",
        {"password1": "New-pass-123!", "password2": "New-pass-123!", "usable_password": "true"},
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.check_password("New-pass-123!")
