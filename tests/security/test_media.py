"""Uploaded files (imports hold personal data) are served to logged-in staff with the right
permission only, in development too (item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    path = Path(tmp_path, "imports", "2026", "12", "contacts.csv")
    path.parent.mkdir(parents=True)
    path.write_text("email\nada@example.com\n")
    return "/media/imports/2026/12/contacts.csv"


@pytest.mark.parametrize("debug", [False, True])
def test_anonymous_visitors_get_the_login_page_not_the_file(client, upload, settings, debug):
    settings.DEBUG = debug
    response = client.get(upload)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_the_permission_are_refused(django_user_model, upload):
    client = Client()
    client.force_login(django_user_model.objects.create_user("temp", "t@example.com", "pw", is_staff=True))
    assert client.get(upload).status_code == 403


def test_staff_with_the_permission_download_it(admin_client, upload):
    response = admin_client.get(upload)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"email\nada@example.com\n"
    assert response["Content-Disposition"] == "attachment"


def test_no_way_out_of_the_media_folder(admin_client, upload):
    assert admin_client.get("/media/imports/../../../etc/passwd").status_code in (400, 404)


def test_dot_segments_do_not_reach_a_folder_of_another_permission(django_user_model, upload, settings):
    """The permission is chosen by the folder the file is really in, not by the path as written."""
    from django.contrib.auth.models import Permission

    secret = Path(settings.MEDIA_ROOT, "coupon-imports", "2026", "12", "codes.csv")
    secret.parent.mkdir(parents=True)
    secret.write_text("code\nSECRET-CODE\n")
    user = django_user_model.objects.create_user("importer", "i@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_importjob"))
    client = Client()
    client.force_login(user)
    assert client.get(upload).status_code == 200
    response = client.get("/media/imports/../coupon-imports/2026/12/codes.csv")
    assert response.status_code in (403, 404)
    assert b"SECRET" not in b"".join(getattr(response, "streaming_content", [response.content]))
