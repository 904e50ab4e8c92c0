"""Login throttling (django-axes) and the API's rate limit per token (issue 12, item 5)."""

from __future__ import annotations

import json

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group

from contacts.services.roles import ADMINISTRATOR, roles_sync
from contacts.services.tokens import apitoken_create

pytestmark = pytest.mark.django_db


def log_in(client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_lockout_after_failures_even_with_the_right_password(client, django_user_model, settings):
    django_user_model.objects.create_superuser("boss", "b@example.com", "right-password")
    statuses = [log_in(client, "boss", "wrong").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the form again, then locked
    response = log_in(client, "boss", "right-password")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_by_address_covers_other_user_names(client, django_user_model, settings):
    django_user_model.objects.create_superuser("boss", "b@example.com", "right-password")
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"guess{n}", "wrong")
    assert log_in(client, "boss", "right-password").status_code == 429


def test_fewer_failures_then_the_right_password_logs_in(client, django_user_model, settings):
    django_user_model.objects.create_superuser("boss", "b@example.com", "right-password")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "boss", "wrong")
    response = log_in(client, "boss", "right-password")
    assert response.status_code == 302 and client.session["_auth_user_id"]


def test_administrators_see_lockouts_and_can_lift_them(client, django_user_model, settings):
    from django.test import Client

    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "mara", "wrong")
    roles_sync()
    boss = django_user_model.objects.create_user("boss", "b@example.com", "pw", is_staff=True)
    boss.groups.add(Group.objects.get(name=ADMINISTRATOR))
    admin = Client()
    admin.force_login(boss)
    response = admin.get("/admin/axes/accessattempt/")
    assert response.status_code == 200 and "mara" in response.content.decode()
    attempt = AccessAttempt.objects.get(username="mara")
    assert admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not AccessAttempt.objects.exists()


def post_contacts(client, raw_token: str):
    return client.post(
        "/api/contacts/",
        data=json.dumps({"email": "ada@example.com"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw_token}"},
    )


def test_api_answers_429_with_retry_after_past_the_rate(client, settings):
    settings.WINBACK_API_RATE_PER_MINUTE = 3
    raw = apitoken_create(name="Shop")[1]
    other = apitoken_create(name="Other shop")[1]
    statuses = [post_contacts(client, raw).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = post_contacts(client, raw)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "at most 3 a minute" in response.json()["error"]
    assert post_contacts(client, other).status_code == 200  # per token
