"""bench/journeys.py's delivery measurement: Winback's delivery of a journey's queued emails, and the
limit it is compared with (the SMTP sink alone, fed prebuilt emails over one persistent connection)."""

from __future__ import annotations

import cProfile
import pstats
import smtplib
import tempfile
import time
from pathlib import Path

from _common import Timer
from django.conf import settings
from smtp_sink import SinkProcess

from journeys.models import Journey
from messaging.models import Message
from messaging.services import messages_deliver


def deliver_queued(journey: Journey, *, profile: bool = False) -> float:
    """Winback's delivery of the journey's queued emails, as the `messaging.deliver` tasks run it:
    MESSAGING_BATCH_SIZE ids per call (one call per task)."""
    ids = list(
        Message.objects.filter(journey_id=journey.pk, status="queued")
        .order_by("id")
        .values_list("id", flat=True)
    )
    size = settings.MESSAGING_BATCH_SIZE
    profiler = cProfile.Profile() if profile else None
    label = f"engine: deliver {len(ids):,} emails over SMTP ({size} per task)"
    cpu = time.process_time()
    with Timer(label) as t_send:
        if profiler:
            profiler.enable()
        for start in range(0, len(ids), size):
            messages_deliver(message_ids=ids[start : start + size])
        if profiler:
            profiler.disable()
    cpu = time.process_time() - cpu
    print(
        f"  engine: delivery used {cpu:.2f} s of CPU in this process "
        f"({cpu / max(len(ids), 1) * 1000:.2f} ms per email)"
    )
    if profiler:
        dump = Path(tempfile.gettempdir()) / "winback-delivery.prof"
        profiler.dump_stats(dump)
        print(f"  profile written to {dump}")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return t_send.seconds


def sink_capacity(sink: SinkProcess, count: int, size: int, tag: str = "capacity") -> float:
    """The limit for delivery, written as a competent engineer would write the fastest sender: ONE
    persistent smtplib connection to the sink sending `count` messages built beforehand (bytes, not
    timed), each `size` bytes like Winback's (same headers, an HTML and a text part), in emails per
    second. Nothing is rendered or recorded: this is what the sink and the socket can take."""
    from django.core.mail import EmailMultiAlternatives

    def build(i: int) -> bytes:
        email = EmailMultiAlternatives(
            subject="We miss you",
            body="Your code ABC",
            to=[f"{tag}{i}@example.com"],
            headers={
                "Message-ID": f"<{tag}{i}@example.com>",
                "List-Unsubscribe": "<https://shop.example.com/m/u/x/>, <mailto:shop@example.com>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        email.attach_alternative("<p>Your code ABC</p>", "text/html")
        return email.message().as_bytes(linesep="\r\n")

    # Padded to Winback's average size with short lines in both parts (SMTP lines stay under 1,000).
    lines = max(size - len(build(0)), 0) // 2 // 72
    padding = b"Your code ABC" + b"\r\n" + b"\r\n".join([b"x" * 70] * lines)
    messages = [build(i).replace(b"Your code ABC", padding, 2) for i in range(count)]
    sender = "shop@example.com"
    label = f"limit: the SMTP sink alone, {count:,} prebuilt {len(messages[0]):,}-byte emails, one connection"
    with Timer(label) as t:
        smtp = smtplib.SMTP(sink.host, sink.port)
        for i, message in enumerate(messages):
            smtp.sendmail(sender, [f"{tag}{i}@example.com"], message)
        smtp.quit()
    return count / t.seconds
