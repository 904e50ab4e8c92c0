"""The dashboard, report pages and their CSV downloads show only what the user may view; bad filter
input never gives a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from tests.reports.data import known_journey_build

pytestmark = pytest.mark.django_db


def staff(client, *codenames: str) -> User:
    user = User.objects.create_user("marketer", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def test_staff_without_journey_view_sees_no_journey_figures(client):
    known = known_journey_build()
    staff(client, "view_contact")
    page = client.get(reverse("admin:index")).content.decode()
    assert 'data-page="dashboard"' in page
    assert 'data-table="journeys"' not in page and known.journey.name not in page
    assert 'data-metric="coupons"' not in page and 'data-metric="messages"' not in page
    assert 'data-metric="at-risk"' in page
    dash = reverse("reports:dashboard-download")
    assert client.get(dash, {"download": "journeys"}).status_code == 404
    assert client.get(dash, {"download": "messages"}).status_code == 404
    assert client.get(dash, {"download": "stages"}).status_code == 200
    journey = reverse("reports:journey", args=[known.journey.pk])
    assert client.get(journey).status_code == 403
    assert client.get(journey, {"download": "groups"}).status_code == 403
    assert client.get(reverse("reports:coupons")).status_code == 403
    assert client.get(reverse("reports:movement")).status_code == 200


def test_staff_without_contact_view_gets_no_movement_or_audience(client):
    known = known_journey_build()
    staff(client, "view_journey")
    page = client.get(reverse("admin:index")).content.decode()
    assert 'data-metric="at-risk"' not in page and 'data-table="journeys"' in page
    assert client.get(reverse("reports:movement")).status_code == 403
    assert client.get(reverse("reports:movement-contacts"), {"download": "contacts"}).status_code == 403
    assert client.get(reverse("reports:dashboard-download"), {"download": "stages"}).status_code == 404
    assert client.get(reverse("reports:journey", args=[known.journey.pk])).status_code == 200


@pytest.mark.parametrize(
    "params",
    [{"to": "0001-01-01"}, {"from": "0001-01-01"}, {"to": "9999-12-31"}, {"from": "abc", "field": "x"}],
)
def test_movement_out_of_range_dates_fall_back_not_500(admin_client, params):
    assert admin_client.get(reverse("reports:movement"), params).status_code == 200
    contacts = reverse("reports:movement-contacts")
    assert admin_client.get(contacts, {**params, "a": "x", "b": ""}).status_code == 200
