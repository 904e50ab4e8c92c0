"""Click redirects (item 6): only to the shop's hosts (SITE_URL, MESSAGING_LINK_HOSTS) or to links
written in the template itself; a host from contact data (a share link) is refused otherwise."""

from __future__ import annotations

import re

import pytest

from contacts.models import Event
from messaging.models import Channel, MessageTemplate
from messaging.services import Outgoing, messages_deliver, messages_queue

pytestmark = pytest.mark.django_db


def send(contact, smtp_sink, html_body: str):
    template = MessageTemplate.objects.create(
        name="T", channel=Channel.EMAIL, subject="Hi", html_body=html_body
    )
    ids = messages_queue(
        template=template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="k", context={})]
    )
    messages_deliver(message_ids=ids)
    html = smtp_sink.received[-1].get_body(("html",)).get_content()
    return [
        u.removeprefix("http://testserver") for u in re.findall(r'href="(http://testserver/m/c/[^"]+)"', html)
    ]


def test_a_share_link_host_from_contact_data_is_refused(client, smtp_sink, make_contact):
    contact = make_contact(attributes={"referral_share_link": "https://evil.example.net/phish"})
    (click,) = send(contact, smtp_sink, '<a href="{{ contact.attributes.referral_share_link }}">Share</a>')
    response = client.get(click)
    assert response.status_code == 400 and "Location" not in response
    assert not Event.objects.filter(kind=Event.Kind.EMAIL_CLICK).exists()


def test_a_share_link_on_the_allowlist_redirects(client, smtp_sink, make_contact, settings):
    settings.MESSAGING_LINK_HOSTS = ["*.referral.example.org"]
    contact = make_contact(attributes={"referral_share_link": "https://r.referral.example.org/x"})
    (click,) = send(contact, smtp_sink, '<a href="{{ contact.attributes.referral_share_link }}">Share</a>')
    response = client.get(click)
    assert response.status_code == 302 and response["Location"] == "https://r.referral.example.org/x"


def test_a_link_written_in_the_template_redirects_whatever_its_host(
    client, smtp_sink, make_contact, settings
):
    settings.MESSAGING_LINK_HOSTS = []
    (click,) = send(
        make_contact(), smtp_sink, '<a href="https://partner.example.org/a?x=1&amp;y=2">Partner</a>'
    )
    response = client.get(click)
    assert response.status_code == 302 and response["Location"] == "https://partner.example.org/a?x=1&y=2"


def test_a_prefix_of_a_written_link_is_not_written(client, smtp_sink, make_contact, settings):
    """Contact data "https://partner.ex" is not the template's "https://partner.example.org/"."""
    settings.MESSAGING_LINK_HOSTS = []
    contact = make_contact(attributes={"referral_share_link": "https://partner.ex"})
    body = (
        '<a href="https://partner.example.org/">P</a>'
        '<a href="{{ contact.attributes.referral_share_link }}">S</a>'
    )
    written, from_data = send(contact, smtp_sink, body)
    assert client.get(written).status_code == 302
    assert client.get(from_data).status_code == 400
