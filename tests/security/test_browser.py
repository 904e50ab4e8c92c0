"""The new screens in a real browser: the lockout page and the audit trail (saved as screenshots)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from audit.services import audit_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("test-results/screenshots")


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def fill_login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_lockout_page_after_failed_logins(page, live_server, django_user_model, settings, shots):
    page.set_viewport_size({"width": 1366, "height": 768})
    django_user_model.objects.create_superuser("boss", "b@example.com", "right-password")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        fill_login(page, live_server, "boss", "wrong")
    fill_login(page, live_server, "boss", "right-password")
    expect(page.locator("[data-login-locked]")).to_contain_text("Too many failed logins")
    page.screenshot(path=str(shots / "security-lockout.png"))


def test_audit_trail_list_and_entry(page, live_server, admin_user, shots):
    page.set_viewport_size({"width": 1366, "height": 768})
    audit_record(
        user=admin_user,
        action="journey.pause",
        object_type="journeys.journey",
        object_id=3,
        object_repr="Win back lapsed buyers",
        changes={"status": ["active", "paused"]},
        source="admin",
    )
    entry = audit_record(
        user=admin_user,
        action="segment.change",
        object_type="segments.segment",
        object_id=5,
        object_repr="Lapsed 90 days",
        changes={"rules": [{"all": []}, {"all": [{"field": "recency_days", "op": "gt", "value": 90}]}]},
        source="admin",
    )
    audit_record(user=None, action="contact.anonymize", object_type="contacts.contact", object_id=42)
    fill_login(page, live_server, "admin", "password")
    page.goto(f"{live_server.url}/admin/audit/auditentry/")
    expect(page.locator("#result_list")).to_contain_text("journey.pause")
    page.screenshot(path=str(shots / "security-audit-trail.png"))
    page.goto(f"{live_server.url}/admin/audit/auditentry/{entry.pk}/change/")
    expect(page.locator("[data-audit-changes]")).to_contain_text("recency_days")
    page.screenshot(path=str(shots / "security-audit-entry.png"))
