"""Gallery, create from a playbook, import page and the Export action (admin client)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse

from journeys.demo import REFERRAL_JOURNEY, WINBACK_JOURNEY
from journeys.models import Journey, Step
from journeys.playbooks.views import journey_page_url
from journeys.services.transfer import journey_export

pytestmark = pytest.mark.django_db


def test_changelist_links_to_the_gallery_and_the_import_page(admin_client):
    page = admin_client.get(reverse("admin:journeys_journey_changelist")).content.decode()
    assert reverse("journeys:playbooks") in page and reverse("journeys:journey-import") in page


def test_gallery_lists_the_five_playbooks_with_channels_and_what_to_prepare(admin_client):
    page = admin_client.get(reverse("journeys:playbooks")).content.decode()
    for title in ("Defecting advocates", "Low-CLV coupon", "At-risk multichannel", "Base clean-up"):
        assert title in page
    assert "CLV inactive re-engagement" in page and "What to prepare" in page and "Web push" in page
    assert 'name="base-clean-up-mode"' in page and 'name="clv-inactive-re-engagement-start_at"' in page


def test_create_from_the_gallery_redirects_to_the_draft(admin_client, demo_shop):
    response = admin_client.post(
        reverse("journeys:playbook-create", args=["base-clean-up"]),
        {"base-clean-up-prefix": "Test", "base-clean-up-mode": "delete"},
    )
    journey = Journey.objects.get(name="Test Base clean-up")
    assert response.status_code == 302
    assert response["Location"] == journey_page_url(journey)  # the editor if installed, else the admin page
    assert Step.objects.get(journey=journey, key="remove").config["mode"] == "delete"
    again = admin_client.post(
        reverse("journeys:playbook-create", args=["base-clean-up"]),
        {"base-clean-up-prefix": "Test", "base-clean-up-mode": "anonymize"},
    )
    assert again.status_code == 400 and "exists already" in again.content.decode()


def test_gallery_needs_permission(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("journeys:playbooks")).status_code == 403


def test_export_action_downloads_one_file_or_a_zip(admin_client, demo_shop):
    ids = list(
        Journey.objects.filter(name__in=[WINBACK_JOURNEY, REFERRAL_JOURNEY]).values_list("pk", flat=True)
    )
    url = reverse("admin:journeys_journey_changelist")
    one = admin_client.post(url, {"action": "journeys_export", "_selected_action": ids[:1]})
    assert one["Content-Type"].startswith("application/json")
    assert json.loads(one.content)["format"] == "winback.journey"
    both = admin_client.post(url, {"action": "journeys_export", "_selected_action": ids})
    assert len(zipfile.ZipFile(io.BytesIO(both.content)).namelist()) == 2


def _upload(admin_client, content: bytes, prefix: str = ""):
    upload = io.BytesIO(content)
    upload.name = "journey.json"
    return admin_client.post(reverse("journeys:journey-import"), {"file": upload, "prefix": prefix})


def test_import_page_creates_a_draft_and_shows_clear_errors(admin_client, demo_shop):
    data = journey_export(journey=Journey.objects.get(name=WINBACK_JOURNEY))
    response = _upload(admin_client, json.dumps(data).encode(), prefix="Imported")
    assert response.status_code == 302
    assert Journey.objects.filter(name=f"Imported {WINBACK_JOURNEY}", status="draft").exists()
    bad = _upload(admin_client, b"{not json")
    assert bad.status_code == 400 and "Not valid JSON" in bad.content.decode()
    data["segments"] = []
    missing = _upload(admin_client, json.dumps(data).encode(), prefix="Other")
    assert missing.status_code == 400
    assert "is not defined in the file" in missing.content.decode()
    assert not Journey.objects.filter(name=f"Other {WINBACK_JOURNEY}").exists()
