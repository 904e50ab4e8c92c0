"""The privacy screens as a marketer sees them: an import that skips an erased person, a refused
encoding, the suppression list and its lift page, the contact page's export button."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from contacts.services.forget import contacts_anonymize
from tests.factories import ContactFactory

SHOTS = Path("test-results/screenshots")


@pytest.fixture
def logged_in(page, live_server, admin_user):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "password")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("Winback")
    SHOTS.mkdir(parents=True, exist_ok=True)
    return page


@pytest.mark.browser
def test_erased_person_is_skipped_on_import_then_lifted(logged_in, live_server, tmp_path):
    page = logged_in
    anna = ContactFactory(email="anna@example.com", first_name="Anna")
    contacts_anonymize(contact_ids=[anna.pk], source="admin")
    upload = tmp_path / "contacts.csv"
    upload.write_text("email,first_name\nanna@example.com,Anna\nben@example.com,Ben\n")
    page.goto(f"{live_server.url}/admin/contacts/contact/import/")
    page.set_input_files("input[name=file]", str(upload))
    page.click("input[value='Upload and preview']")
    expect(page.locator("#skipped-summary")).to_contain_text("1 row will be skipped")
    expect(page.locator("#import-skipped")).to_contain_text("suppressed (erased on")
    page.screenshot(path=str(SHOTS / "import-preview-skipped.png"))
    page.click("#confirm-import")
    expect(page.locator(".messagelist")).to_contain_text("1 skipped: erased people")
    assert list(Contact.objects.exclude(pk=anna.pk).values_list("email", flat=True)) == ["ben@example.com"]

    page.goto(f"{live_server.url}/admin/contacts/suppression/")
    page.screenshot(path=str(SHOTS / "suppression-list.png"))
    page.click("#lift-suppression")
    page.fill("input[name=email]", "anna@example.com")
    page.fill("textarea[name=reason]", "Anna signed up again in the shop (ticket 4711)")
    page.screenshot(path=str(SHOTS / "suppression-lift.png"))
    page.click("input[value='Lift the suppression']")
    expect(page.locator(".messagelist")).to_contain_text("Suppression lifted")


@pytest.mark.browser
def test_a_shift_jis_file_is_refused_by_name(logged_in, live_server, tmp_path):
    page = logged_in
    upload = tmp_path / "japan.csv"
    upload.write_bytes("email,first_name,last_name\nyamada@example.jp,太郎,山田\n".encode("shift_jis"))
    page.goto(f"{live_server.url}/admin/contacts/contact/import/")
    page.set_input_files("input[name=file]", str(upload))
    page.click("input[value='Upload and preview']")
    expect(page.locator("#import-errors")).to_contain_text("Shift-JIS")
    page.screenshot(path=str(SHOTS / "import-refused-encoding.png"))


@pytest.mark.browser
def test_contact_page_offers_the_data_export(logged_in, live_server):
    page = logged_in
    anna = ContactFactory(email="anna@example.com", first_name="Anna")
    page.goto(f"{live_server.url}/admin/contacts/contact/{anna.pk}/change/")
    expect(page.locator("#export-contact-data")).to_be_visible()
    page.screenshot(path=str(SHOTS / "contact-export-button.png"))
    with page.expect_download() as download:
        page.click("#export-contact-data")
    assert download.value.suggested_filename == f"contact-{anna.pk}-data.json"
