"""Issue 8: every file either imports or gives row-level errors; no exception escapes, no job stays
pending, no mojibake is imported silently, uploads have a size limit, old upload files are deleted."""

import base64
import random
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from contacts.importing import csv_import
from contacts.models import Contact, ImportJob
from contacts.services.imports import import_job_preview, import_job_run, import_jobs_tidy

pytestmark = pytest.mark.django_db

HEADER = "email,first_name,last_name\n"
PEOPLE = "yamada@example.jp,太郎,山田\nsuzuki@example.jp,花子,鈴木\n"


def _messages(result) -> str:
    return " ".join(e["message"] for e in result.errors)


def test_bare_cr_in_the_header_is_a_clear_error_not_a_500(admin_client):
    data = b"email,first\rname\na@example.org,A\n"
    result = csv_import(kind="contacts", data=data)
    assert not result.ok and "carriage return" in _messages(result)
    upload = SimpleUploadedFile("cr.csv", data, content_type="text/csv")
    response = admin_client.post("/admin/contacts/contact/import/", {"file": upload, "format": "auto"})
    assert response.status_code == 200
    assert "carriage return" in response.content.decode()
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED and "carriage return" in job.errors[0]["message"]
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "codec, named",
    [
        ("shift_jis", "Shift-JIS"),
        ("big5", "big5"),
        ("gb18030", "detected:"),
        ("euc_jp", "detected:"),
        ("euc_kr", "detected:"),
    ],
)
def test_cjk_legacy_encodings_are_refused_not_read_as_mojibake(codec, named):
    people = "kim@example.kr,민준,김\nlee@example.kr,서연,이\n" if codec == "euc_kr" else PEOPLE
    result = csv_import(kind="contacts", data=(HEADER + people).encode(codec))
    assert not result.ok
    text = _messages(result)
    assert "Chinese/Japanese/Korean" in text and named in text and "UTF-8" in text
    assert not Contact.objects.exists()


def test_utf7_is_refused():
    result = csv_import(kind="contacts", data=(HEADER + "m@example.de,Jürgen,Müller\n").encode("utf_7"))
    assert not result.ok and "UTF-7" in _messages(result)
    assert not Contact.objects.exists()


def test_plus_addressed_emails_are_not_mistaken_for_utf7():
    result = csv_import(kind="contacts", data=b"email,first_name\njo+abc-news@example.com,Jo\n")
    assert result.ok, result.errors
    assert Contact.objects.get().email == "jo+abc-news@example.com"


def test_base64_tokens_in_a_utf8_file_are_not_mistaken_for_utf7():
    # About 1 base64 token in 400 has a "+..." run that UTF-7-decodes to letters ("IFGGVnX+WeGblXvh"):
    # a valid UTF-8 file of 1,000 referral tokens was refused as UTF-7 nine times out of ten.
    rng = random.Random(8)
    tokens = ["IFGGVnX+WeGblXvh", "Jy8zcgh+XbI0+jKJ"]
    tokens += [base64.b64encode(rng.randbytes(12)).decode() for _ in range(300)]
    rows = "".join(f"u{i}@example.org,{token}\n" for i, token in enumerate(tokens))
    result = csv_import(kind="contacts", data=("email,attributes.referral_token\n" + rows).encode())
    assert result.ok, result.errors
    assert result.created == len(tokens)


def test_utf7_names_among_phone_numbers_are_still_refused():
    text = "email,first_name,phone\n" + "".join(
        f"u{i}@example.de,{name},+4915112345{i:03d}\n" for i, name in enumerate(["Jürgen", "Zoë"] * 20)
    )
    result = csv_import(kind="contacts", data=text.encode("utf_7"))
    assert not result.ok and "UTF-7" in _messages(result)


def test_mixed_utf8_and_windows_1252_is_refused_naming_the_line():
    data = (HEADER + "a@example.de,Jürgen,Müller\n").encode() + "b@example.de,René,Côté\n".encode("cp1252")
    result = csv_import(kind="contacts", data=data)
    assert not result.ok and "mixes encodings" in _messages(result) and "line 3" in _messages(result)


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_supported_encodings_import_the_right_names(codec):
    text = HEADER + "a@example.de,Jürgen,Müller\nb@example.fr,René,Côté\nc@example.de,Zoë,Strauß\n"
    result = csv_import(kind="contacts", data=text.encode(codec))
    assert result.ok, result.errors
    names = dict(Contact.objects.values_list("email", "last_name"))
    assert names == {"a@example.de": "Müller", "b@example.fr": "Côté", "c@example.de": "Strauß"}


def test_binary_and_workbooks_are_refused():
    assert "binary" in _messages(csv_import(kind="contacts", data=bytes(range(256)) * 8))
    assert "workbook" in _messages(csv_import(kind="contacts", data=b"PK\x03\x04rest-of-a-zip"))


def test_a_duplicated_column_that_is_imported_is_an_error():
    result = csv_import(kind="contacts", data=b"email,first_name,Email\na@example.com,A,b@example.com\n")
    assert not result.ok and "appears twice" in _messages(result)
    assert not Contact.objects.exists()


def _job(data: bytes, *, status=ImportJob.Status.PENDING, **fields) -> ImportJob:
    job = ImportJob(kind="contacts", original_name="f.csv", status=status, **fields)
    job.file.save("f.csv", ContentFile(data), save=False)
    job.save()
    return job


def test_a_job_whose_file_is_gone_fails_with_a_reason_and_does_not_raise():
    job = _job(b"email\na@example.com\n")
    job.file.storage.delete(job.file.name)
    result = import_job_run(job_id=job.pk)
    assert result is not None and not result.ok
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "The import stopped" in job.errors[0]["message"]
    preview_job = _job(b"email\na@example.com\n")
    preview_job.file.storage.delete(preview_job.file.name)
    assert not import_job_preview(job=preview_job).ok
    preview_job.refresh_from_db()
    assert preview_job.status == ImportJob.Status.FAILED


def test_upload_size_limit_is_a_clear_form_error(admin_client, settings):
    from tests.coupons.conftest import make_pool

    settings.WINBACK_UPLOAD_MAX_BYTES = 2048
    big = b"email\n" + b"someone@example.com\n" * 200
    upload = SimpleUploadedFile("big.csv", big, content_type="text/csv")
    response = admin_client.post("/admin/contacts/contact/import/", {"file": upload, "format": "auto"})
    assert response.status_code == 200
    assert "uploads are limited to" in response.content.decode()
    assert not ImportJob.objects.exists()
    pool = make_pool()
    url = reverse("admin:coupons_couponpool_import", args=[pool.pk])
    response = admin_client.post(
        url, {"file": SimpleUploadedFile("codes.csv", b"code\n" + b"CODE-1\n" * 600)}
    )
    assert response.status_code == 200 and "uploads are limited to" in response.content.decode()


def test_tidy_deletes_old_files_of_finished_jobs_and_fails_forgotten_pending_jobs(settings):
    settings.WINBACK_IMPORT_FILE_RETENTION_DAYS = 30
    at = timezone.now()
    old = _job(b"email\n", status=ImportJob.Status.DONE, finished_at=at - timedelta(days=31))
    recent = _job(b"email\n", status=ImportJob.Status.FAILED, finished_at=at - timedelta(days=29))
    forgotten = _job(b"email\n")
    ImportJob.objects.filter(pk=forgotten.pk).update(created_at=at - timedelta(days=2))
    fresh = _job(b"email\n")
    old_name = old.file.name
    assert import_jobs_tidy(at=at) == {"expired": 1, "abandoned": 0, "files_deleted": 1}
    assert not old.file.storage.exists(old_name)
    old.refresh_from_db()
    recent.refresh_from_db()
    forgotten.refresh_from_db()
    fresh.refresh_from_db()
    assert old.file.name == "" and recent.file.storage.exists(recent.file.name)
    assert forgotten.status == ImportJob.Status.FAILED and "never confirmed" in forgotten.errors[0]["message"]
    assert fresh.status == ImportJob.Status.PENDING


def test_tidy_fails_a_job_whose_worker_died_while_running(settings):
    # acks_late redelivers a killed worker's task within the broker's visibility timeout, before the
    # run is stale: the redelivery finds the job "running" and does nothing. Tidy must not leave it so.
    settings.WINBACK_IMPORT_STALE_MINUTES = 120
    at = timezone.now()
    dead = _job(b"email\n", status=ImportJob.Status.RUNNING, started_at=at - timedelta(minutes=121))
    alive = _job(b"email\n", status=ImportJob.Status.RUNNING, started_at=at - timedelta(minutes=5))
    assert import_jobs_tidy(at=at)["abandoned"] == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == ImportJob.Status.FAILED and dead.finished_at == at
    assert "stopped while importing" in dead.errors[0]["message"]
    assert alive.status == ImportJob.Status.RUNNING


def test_tidy_runs_from_the_beat_schedule():
    from django.conf import settings

    entries = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "contacts.tasks.import_jobs_tidy_task" in entries


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_and_with_cjk_names_imports_the_right_names(codec):
    # CJK code units have no zero byte: the old "90 % zeros in one byte column" test missed these files,
    # and UTF-16-LE of 太 (2A 59) / 郎 (CE 90) even decodes as UTF-8 (with NULs): silent mojibake.
    rows = "".join(f"u{i}@example.jp,太郎,山田\n" for i in range(20))
    result = csv_import(kind="contacts", data=(HEADER + rows).encode(codec))
    assert result.ok, result.errors
    assert result.encoding == codec
    assert set(Contact.objects.values_list("first_name", "last_name")) == {("太郎", "山田")}


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_whose_header_starts_with_a_cjk_letter(codec):
    text = "名前,email\n" + "".join(f"太郎,u{i}@example.jp\n" for i in range(20))
    result = csv_import(kind="contacts", data=text.encode(codec))
    assert result.encoding == codec
    assert "名前" in result.ignored_columns


def test_windows_1252_capitals_before_punctuation_are_not_mistaken_for_utf8():
    # "É" + no-break space (0xC9 0xA0) or "É»" (0xC9 0xBB) is also a valid UTF-8 byte pair ("ɠ", "ɻ"):
    # such a pair alone is no sign of a UTF-8 part, and the Windows-1252 file must import.
    text = HEADER + "a@example.fr,Zoé,CAFÉ\xa0!\nb@example.fr,«ZOÉ»,Côté\n"
    result = csv_import(kind="contacts", data=text.encode("cp1252"))
    assert result.ok, result.errors
    assert result.encoding == "cp1252"
    assert set(Contact.objects.values_list("first_name", flat=True)) == {"Zoé", "«ZOÉ»"}
