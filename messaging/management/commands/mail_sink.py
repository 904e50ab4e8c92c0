"""A local SMTP server for development: stores every email it receives as ReceivedMail (admin:
Messaging > Received mail). `make run` starts it through the Procfile on port 1025."""

from __future__ import annotations

import email
import email.policy
import logging
import threading

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand

from messaging.models import ReceivedMail


def store(*, mail_from: str, recipients: list[str], content: bytes) -> ReceivedMail:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    return ReceivedMail.objects.create(
        mail_from=mail_from[:254],
        recipients=", ".join(recipients),
        subject=str(parsed.get("Subject", ""))[:500],
        message_id=str(parsed.get("Message-ID", ""))[:255],
        raw=content.decode("utf-8", errors="replace"),
    )


class Handler:
    def __init__(self, stdout):
        self.stdout = stdout

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        mail = await sync_to_async(store, thread_sensitive=False)(
            mail_from=envelope.mail_from or "",
            recipients=list(envelope.rcpt_tos),
            content=envelope.original_content or envelope.content,
        )
        self.stdout.write(f"mail_sink: {mail.subject!r} to {mail.recipients}")
        return "250 Message accepted for delivery"


class Command(BaseCommand):
    help = "Run a local SMTP server that stores received mail in the database (development)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=1025)

    def handle(self, *args, host: str, port: int, **options):
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
        controller = Controller(Handler(self.stdout), hostname=host, port=port)
        controller.start()
        self.stdout.write(f"mail_sink: listening on {host}:{port}; see the admin, Messaging > Received mail")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
