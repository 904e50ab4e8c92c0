"""Real-browser journeys through the admin as a marketer or an analyst (not a superuser)."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from contacts.services.roles import ANALYST, MARKETER, roles_sync

PASSWORD = "password"  # noqa: S105


@pytest.fixture
def shots(tmp_path) -> Path:
    """Screenshots folder: a tmp path, or $WB_E2E_SHOTS to keep them for a look."""
    folder = Path(os.environ.get("WB_E2E_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _user_in(django_user_model, username: str, group: str):
    roles_sync()
    user = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def login(page, live_server, username: str):
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.fixture
def marketer_page(page, live_server, django_user_model):
    _user_in(django_user_model, "mara", MARKETER)
    return login(page, live_server, "mara")


@pytest.fixture
def analyst_page(page, live_server, django_user_model):
    _user_in(django_user_model, "ana", ANALYST)
    return login(page, live_server, "ana")
