import os
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest

from messaging.management.commands.mail_sink import store
from messaging.models import ReceivedMail
from tests.conftest import test_database_url
from tests.messaging.conftest import free_port


@pytest.mark.django_db
def test_store_keeps_subject_recipients_and_raw():
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "Hi", "a@example.com", "b@example.com"
    message["Message-ID"] = "<x@example.com>"
    message.set_content("body")
    mail = store(mail_from="a@example.com", recipients=["b@example.com"], content=message.as_bytes())
    assert (mail.subject, mail.recipients, mail.message_id) == ("Hi", "b@example.com", "<x@example.com>")
    assert "body" in mail.raw


@pytest.mark.django_db(transaction=True)
def test_mail_sink_command_receives_smtp_into_the_database():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "mail_sink", "--port", str(port)],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": test_database_url()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "mail_sink did not start"
                time.sleep(0.1)
        with client:
            client.sendmail(
                "shop@example.com", ["c@example.com"], b"Subject: From the sink test\r\n\r\nhello\r\n"
            )
        deadline = time.monotonic() + 10
        while not ReceivedMail.objects.exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert ReceivedMail.objects.get().subject == "From the sink test"
    finally:
        process.terminate()
        process.wait(10)
