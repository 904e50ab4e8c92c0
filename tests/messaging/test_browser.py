import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_marketer_previews_a_template_for_a_chosen_contact(
    page, live_server, admin_user, make_contact, email_template, tmp_path
):
    contact = make_contact(first_name="Yasmin", last_name="Browser", email="yasmin@example.com")
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(
        f"{live_server.url}{reverse('admin:messaging_messagetemplate_preview', args=[email_template.pk])}"
    )
    assert "We miss you, Alex" in page.inner_text("#preview")
    if page.locator(".select2").count():
        page.click(".select2")
        page.fill(".select2-search__field", "yasmin")
        page.click(".select2-results__option >> text=Yasmin")
    else:
        page.fill("input[name=contact]", str(contact.pk))
        page.press("input[name=contact]", "Enter")
    page.wait_for_function("document.querySelector('#preview').innerText.includes('Yasmin')")
    assert "We miss you, Yasmin" in page.inner_text("#preview")
    frame = page.frame_locator("#preview iframe")
    assert "Hi Yasmin" in frame.locator("body").inner_text()
    page.screenshot(path=str(tmp_path / "messaging-preview.png"), full_page=True)


def test_marketer_previews_unsaved_edits_on_the_template_form(page, live_server, admin_user, email_template):
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(
        f"{live_server.url}{reverse('admin:messaging_messagetemplate_change', args=[email_template.pk])}"
    )
    page.fill("#id_subject", "Edited for {{ contact.first_name }}")
    page.click("text=Preview these edits")
    page.wait_for_selector("#draft-preview >> text=Edited for Alex")
    email_template.refresh_from_db()
    assert email_template.subject == "We miss you, {{ contact.first_name }}"  # not saved
