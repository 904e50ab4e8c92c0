"""The bytes written for an outgoing email are exactly what Django's as_bytes() writes (same headers,
folding, bodies, boundary): messaging/email_bytes.py only skips folding where it changes nothing."""

from __future__ import annotations

import random
import string
from email.errors import MessageError

import pytest
from django.core.mail import EmailMultiAlternatives

from messaging import email_bytes
from messaging.services.channels import _Email

UNSUBSCRIBE = (
    "<https://shop.example.com/m/u/eyJjIjoxMjMsIm0iOjQ1Nn0:1v2x3y:abcdefghijklmnopqrstuvwxyzABCDEFGHIJ/>, "
    "<mailto:shop@example.com?subject=unsubscribe>"
)


def django_bytes(msg, **kwargs) -> bytes:
    return type(msg).as_bytes(msg, **kwargs)  # the class's method, not the instance's fast one


def winback_email(**overrides) -> _Email:
    values = {
        "subject": "We miss you",
        "body": "Your code ABC\nSee you soon",
        "from_email": "Shop <shop@example.com>",
        "to": ["alex@example.com"],
        "headers": {
            "Message-ID": "<0123456789abcdef0123456789abcdef01234567@example.com>",
            "List-Unsubscribe": UNSUBSCRIBE,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Winback-Message": "123",
        },
    }
    values.update(overrides)
    email = _Email(**values)
    email.attach_alternative("<p>Your code <b>ABC</b></p>", "text/html")
    return email


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"subject": "Wir vermissen Sie, Zoë — 20 % Rabatt für Sie"},
        {"subject": "a " * 60},
        {"subject": "two  spaces and a\ttab"},
        {"to": ["Zoë Ünal <zoe@example.com>"]},
        {"to": ["x" * 70 + "@example.com"]},
        {"from_email": "Bäckerei Müller <shop@example.com>"},
        {"body": "From the shop\r\nline two\n" + "y" * 1200},
        {"body": "Grüße aus dem Laden\n"},
        {"body": ""},
    ],
)
def test_the_bytes_sent_are_djangos_bytes(overrides):
    msg = winback_email(**overrides).message()
    assert msg.as_bytes(linesep="\r\n") == django_bytes(msg, linesep="\r\n")
    assert msg.as_bytes() == django_bytes(msg)


def test_random_headers_and_bodies_give_djangos_bytes():
    rnd = random.Random(11)
    alphabet = string.printable + "éü€\u2028\x0b   "

    def text(n: int) -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, n)))

    def word(n: int) -> str:
        return "".join(rnd.choice(string.ascii_letters + " ,;<>:@.-='\"") for _ in range(rnd.randint(0, n)))

    checked = 0
    for i in range(600):
        email = EmailMultiAlternatives(
            subject=rnd.choice([text, word])(120).replace("\n", " ").replace("\r", " "),
            body=text(300),
            to=[rnd.choice(["a@example.com", "Zoë <z@example.com>", "x" * 60 + "@example.com"])],
            headers={"X-Winback-Message": str(i), "X-Odd": word(90), "List-Unsubscribe": UNSUBSCRIBE},
        )
        email.attach_alternative(text(1500) + "x" * rnd.choice([0, 1200]), "text/html")
        try:
            msg = email.message()
        except (ValueError, MessageError):  # a header Django refuses: not an email to compare
            continue
        try:
            expected = django_bytes(msg, linesep="\r\n")
        except Exception as exc:  # Python refuses to write it (an embedded header): so must we
            with pytest.raises(type(exc)):
                email_bytes.as_bytes(msg, linesep="\r\n")
            continue
        assert email_bytes.as_bytes(msg, linesep="\r\n") == expected
        checked += 1
    assert checked > 400


def test_plain_short_headers_skip_the_folding_and_long_ones_do_not():
    msg = winback_email().message()
    assert msg.as_bytes.func is email_bytes.as_bytes  # what the SMTP backend calls
    data = msg.as_bytes(linesep="\r\n")
    assert b"X-Winback-Message: 123\r\n" in data
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in data
    # Too long for one line: folded by Python's folding, as before.
    assert b"List-Unsubscribe: \r\n <https://shop.example.com/m/u/" in data
    assert b"/>,\r\n <mailto:shop@example.com?subject=unsubscribe>\r\n" in data


@pytest.mark.parametrize(
    ("sender", "recipient"),
    [
        ("Shop <shop@example.com>", "alex@example.com"),
        ("Bäckerei Müller <shop@example.com>", "Zoë <zoe@bücher.example>"),
        ("shop@example.com", "first.last+tag@mail.example.co.uk"),
    ],
)
def test_the_smtp_send_gives_the_envelope_and_bytes_djangos_backend_gives(
    smtp_sink, monkeypatch, sender, recipient
):
    """Delivery hands Django's SMTP backend's connection the same envelope (sanitized addresses) and
    bytes as backend.send_messages() would."""
    from django.core.mail import get_connection

    from messaging.services.channels import _smtp_send

    email = winback_email(from_email=sender, to=[recipient])
    built = email.message()
    monkeypatch.setattr(_Email, "message", lambda self: built)  # the same Date and boundary twice
    backend = get_connection(fail_silently=False)
    backend.open()
    try:
        assert backend.send_messages([email]) == 1
        assert _smtp_send(backend, email) == 1
    finally:
        backend.close()
    django_sent, ours = smtp_sink.envelopes
    assert (ours.mail_from, ours.rcpt_tos) == (django_sent.mail_from, django_sent.rcpt_tos)
    assert ours.original_content == django_sent.original_content


def test_envelope_addresses_are_what_sanitize_address_gives():
    from django.core.mail.message import sanitize_address

    def outcome(function, address):
        try:
            return function(address, "utf-8")
        except ValueError as exc:
            return type(exc)

    for address in [
        "alex@example.com",
        "first.last+tag@mail.example.co.uk",
        "Alex <alex@example.com>",
        "Zoë <zoe@example.com>",
        "zoe@bücher.example",
        "a..b@example.com",
        '"quoted local"@example.com',
        "a@" + "b" * 63 + ".com",
        "a@" + "b" * 64 + ".com",
        "UPPER@EXAMPLE.COM",
        "no at sign",
        "a@b@c",
    ]:
        assert outcome(email_bytes.envelope_address, address) == outcome(sanitize_address, address)
