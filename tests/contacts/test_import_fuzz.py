"""Importer fuzz (issue 8): a few hundred generated malformed files through the import job.

Each file either imports completely or fails with row-level errors and writes nothing; no exception
escapes; no job is left pending or running. Deterministic (seeded), so a failure reproduces.
"""

import random

import pytest
from django.core.files.base import ContentFile

from contacts.models import Contact, ImportJob, Order, Product
from contacts.services.imports import import_job_preview, import_job_run

pytestmark = pytest.mark.django_db

FILES = 300
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252", "shift_jis", "big5", "gb18030", "euc_jp", "utf_7"]
NAMES = ["Anna", "Jürgen", "René", "Zoë", "山田", "陳", "O'Brien", 'Say "hi"', "a,b", "x;y", "Ærø"]


def _base(rng: random.Random, n: int) -> str:
    header = rng.choice(
        [
            "email,first_name,last_name,phone",
            "external_id;email;first_name;attr.tier",
            "Email,First Name,Last Name,Accepts Email Marketing",  # Shopify customers
        ]
    )
    delimiter = ";" if ";" in header else ","
    rows = [header]
    for i in range(rng.randint(1, 8)):
        name = rng.choice(NAMES)
        if delimiter in name or '"' in name:
            name = '"' + name.replace('"', '""') + '"'
        email = f"f{n}r{i}@example.com"
        if header.startswith("external_id"):
            rows.append(delimiter.join([f"X{n}-{i}", email, name, rng.choice(["gold", "silver"])]))
        elif header.startswith("Email"):
            rows.append(",".join([email, name, "Test", rng.choice(["yes", "no"])]))
        else:
            rows.append(",".join([email, name, "Test", rng.choice(["", "+49 30 1234567"])]))
    return "\n".join(rows) + rng.choice(["\n", "\r\n", ""])


def _encode(rng: random.Random, text: str) -> bytes:
    codec = rng.choice(ENCODINGS)
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _mutate(rng: random.Random, data: bytes) -> bytes:
    kind = rng.randrange(12)
    at = rng.randrange(len(data) + 1)
    if kind == 0:
        return data[:at] + b"\r" + data[at:]  # bare CR anywhere (header included)
    if kind == 1:
        return data[:at] + b"\n" + data[at:]  # bare LF anywhere
    if kind == 2:
        return data[:at] + b'"' + data[at:]  # a quote opened and never closed
    if kind == 3:
        return data[:at] + b"\x00" * rng.randint(1, 3) + data[at:]  # NULs
    if kind == 4:
        return data[:at] + b"x" * rng.choice([300, 5000, 140_000]) + data[at:]  # huge cells
    if kind == 5:
        return data[:at]  # truncated anywhere
    if kind == 6:  # mixed encodings: one more line in another encoding
        line = f"mixed{at}@example.com,{rng.choice(NAMES)},Müller\n"
        return data + (line.encode(rng.choice(["cp1252", "shift_jis", "utf-16", "big5"]), "replace"))
    if kind == 7:  # duplicate header column
        head, _, rest = data.partition(b"\n")
        cells = head.split(b",")
        return b",".join(cells + [rng.choice(cells)]) + b"\n" + rest
    if kind == 8:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 600)))  # binary
    if kind == 9:
        return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 20))) + data[at:]
    if kind == 10:
        return b"PK\x03\x04" + data  # a workbook
    return data[:at] + rng.choice([b"\xff\xfe", b"\xef\xbb\xbf", b"\r\r\n", b'""', b",,,;"]) + data[at:]


def _snapshot() -> tuple[int, int, int, int]:
    return (
        Contact.objects.count(),
        Order.objects.count(),
        Product.objects.count(),
        ImportJob.objects.count(),
    )


def test_generated_malformed_files_import_whole_or_fail_cleanly():
    rng = random.Random(8)
    outcomes = {"imported": 0, "refused": 0}
    for n in range(FILES):
        data = _encode(rng, _base(rng, n))
        for _ in range(rng.randint(0, 3)):
            data = _mutate(rng, data)
        kind = rng.choice(["contacts"] * 8 + ["orders", "products"])
        job = ImportJob(kind=kind, original_name=f"fuzz{n}.csv")
        job.file.save(f"fuzz{n}.csv", ContentFile(data), save=False)
        job.save()
        before = _snapshot()
        try:
            if rng.random() < 0.3:
                preview = import_job_preview(job=job)
                assert _snapshot() == before, f"file {n}: the preview wrote rows"
                if not preview.ok:
                    job.refresh_from_db()
                    assert job.status == ImportJob.Status.FAILED, f"file {n}: preview left job {job.status}"
                    outcomes["refused"] += 1
                    continue
            result = import_job_run(job_id=job.pk)
        except Exception as exc:  # the point of the test: nothing escapes
            pytest.fail(f"file {n} ({data[:80]!r}...): {type(exc).__name__}: {exc}")
        job.refresh_from_db()
        after = _snapshot()
        assert job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED), f"file {n}: {job.status}"
        if result.ok:
            assert job.status == ImportJob.Status.DONE
            assert after[0] - before[0] == result.created if kind == "contacts" else True
            outcomes["imported"] += 1
        else:
            assert job.status == ImportJob.Status.FAILED and job.errors, f"file {n}: failed without a reason"
            assert all(error["message"] for error in job.errors)
            assert after == before, f"file {n}: a failed import wrote rows (partial import)"
            outcomes["refused"] += 1
    assert not ImportJob.objects.filter(status__in=["pending", "running"]).exists()
    # The generator produces both outcomes (a fuzz that only ever fails would prove little).
    assert outcomes["imported"] > 10 and outcomes["refused"] > 100, outcomes
