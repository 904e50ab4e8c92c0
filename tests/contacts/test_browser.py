import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from tests.contacts.conftest import DATA, SAMPLES


@pytest.fixture
def logged_in(page, live_server, admin_user):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "password")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("Winback")
    return page


@pytest.mark.browser
def test_admin_csv_import_previews_then_confirms(logged_in, live_server, tmp_path):
    page = logged_in
    page.goto(f"{live_server.url}/admin/contacts/contact/")
    page.click("text=Import CSV")
    expect(page).to_have_url(re.compile(r"/admin/contacts/contact/import/$"))

    # A bad file: every row error is listed, nothing is saved, no confirm button.
    page.set_input_files("input[name=file]", str(DATA / "contacts_bad_rows.csv"))
    page.click("input[value='Upload and preview']")
    expect(page.locator(".errornote")).to_contain_text("Nothing was imported: 4 errors")
    expect(page.locator("#import-errors tbody tr")).to_have_count(4)
    expect(page.locator("#confirm-import")).to_have_count(0)
    assert Contact.objects.count() == 0

    # The sample file: preview, then confirm.
    page.click("text=Upload another file")
    page.set_input_files("input[name=file]", str(SAMPLES / "winback_contacts.csv"))
    page.click("input[value='Upload and preview']")
    expect(page.locator(".import-summary")).to_contain_text("5 new and 0 updated")
    expect(page.locator("#preview-rows")).to_contain_text("anna.schmidt@example.com")
    page.screenshot(path=str(tmp_path / "import-preview.png"), full_page=True)
    if __import__("os").environ.get("WB_SHOT"):
        page.screenshot(path="/tmp/import-preview.png", full_page=True)
    assert Contact.objects.count() == 0
    page.click("#confirm-import")
    expect(page.locator(".messagelist")).to_contain_text("Imported 5 rows: 5 new, 0 updated.")
    expect(page.locator("#result_list")).to_contain_text("ben.miller@example.com")
    assert Contact.objects.count() == 5


@pytest.mark.browser
def test_import_job_page_polls_its_progress(logged_in, live_server):
    from contacts.models import ImportJob

    page = logged_in
    job = ImportJob.objects.create(
        kind="orders", status=ImportJob.Status.RUNNING, phase="writing", total_rows=1000, processed_rows=250
    )
    page.goto(f"{live_server.url}/admin/contacts/importjob/{job.pk}/change/")
    expect(page.locator("#import-job-progress")).to_contain_text("250 of 1,000 rows written")
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE, phase="", processed_rows=1000, created_rows=900, updated_rows=100
    )
    expect(page.locator("#import-job-progress")).to_contain_text("900 new, 100 updated", timeout=10_000)
