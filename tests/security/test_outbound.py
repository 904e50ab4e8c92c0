"""Server-side request forgery: the worker must never call an internal address (issue 12, item 1).

Every path a push endpoint comes in by is checked (admin form, public subscribe endpoint) and the
worker checks again right before it sends: the endpoint as written, every address its host resolves
to, and no redirect is followed. A local HTTP server on 127.0.0.1 plays the internal service and
must receive nothing. Provider answers show as status and reason, never their body.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from messaging import outbound, tokens
from messaging.models import Message, PushSubscription
from messaging.services import Outgoing, messages_deliver, messages_queue

pytestmark = pytest.mark.django_db


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def receiver_keys() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64(point), b64(os.urandom(16))


@pytest.fixture
def web_push(settings):
    vapid_key = ec.generate_private_key(ec.SECP256R1())
    settings.MESSAGING_PUSH_BACKEND = "messaging.backends.push.WebPushBackend"
    settings.MESSAGING_VAPID_PRIVATE_KEY = b64(vapid_key.private_numbers().private_value.to_bytes(32, "big"))


def send_push_to(endpoint: str, contact, push_template) -> Message:
    p256dh, auth = receiver_keys()
    PushSubscription.objects.create(contact=contact, endpoint=endpoint, p256dh=p256dh, auth=auth)
    ids = messages_queue(
        template=push_template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="x", context={})]
    )
    messages_deliver(message_ids=ids)
    return Message.objects.get(pk=ids[0])


def test_admin_form_refuses_an_internal_push_endpoint(admin_client, make_contact, internal_server):
    contact = make_contact()
    response = admin_client.post(
        "/admin/messaging/pushsubscription/add/",
        {
            "contact": contact.pk,
            "endpoint": f"{internal_server.url}/internal-admin",
            "p256dh": "k",
            "auth": "a",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "https URL on a public host name" in response.content.decode()
    assert not PushSubscription.objects.exists()
    assert internal_server.requests == []


@pytest.mark.parametrize("debug", [False, True])
def test_public_subscribe_refuses_an_internal_endpoint_even_with_debug(
    client, make_contact, internal_server, settings, debug
):
    settings.DEBUG = debug
    contact = make_contact()
    body = {
        "token": tokens.push_subscribe_token(contact.pk),
        "subscription": {
            "endpoint": f"{internal_server.url}/internal-admin",
            "keys": {"p256dh": "k", "auth": "a"},
        },
    }
    response = client.post("/m/push/subscribe/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()
    assert internal_server.requests == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_send_refuses_an_internal_endpoint_already_in_the_database(
    web_push, make_contact, push_template, internal_server, settings, scheme
):
    settings.MESSAGING_PUSH_ENDPOINT_HOSTS = ["*"]  # even a careless allowlist does not open it
    endpoint = f"{scheme}://127.0.0.1:{internal_server.port}/internal-admin"
    message = send_push_to(endpoint, make_contact(), push_template)
    assert message.status == Message.Status.FAILED
    assert "refused" in message.reason
    assert internal_server.requests == []


def test_send_refuses_a_push_host_that_resolves_to_an_internal_address(
    web_push, make_contact, push_template, internal_server, monkeypatch
):
    """DNS says push.example.com (allowlisted in tests) is 127.0.0.1: checked after resolution."""
    monkeypatch.setattr(outbound, "_getaddrinfo", lambda host, port: ["127.0.0.1"])
    message = send_push_to(
        f"https://push.example.com:{internal_server.port}/x", make_contact(), push_template
    )
    assert message.status == Message.Status.FAILED
    assert "127.0.0.1 is not a public address" in message.reason
    assert internal_server.requests == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "fd00:ec2::254",
        "64:ff9b::7f00:1",
        "224.0.0.1",
    ],
)
def test_internal_and_metadata_addresses_are_refused(address):
    assert outbound.address_problem(address)


def test_public_addresses_are_allowed():
    assert outbound.address_problem("142.250.74.10") == ""
    assert outbound.address_problem("2a00:1450:4001:80b::200a") == ""


def test_redirects_are_never_followed(start_server, monkeypatch, settings):
    """An allowed server answering 307 to an internal one: the second gets nothing."""
    internal = start_server(lambda path: (200, {}, b"INTERNAL-SECRET-DATA"))
    public = start_server(lambda path: (307, {"Location": f"{internal.url}/internal-admin"}, b""))
    settings.MESSAGING_OUTBOUND_EXEMPT_ORIGINS = [public.url]  # plays a public push service
    response = outbound.session().post(f"{public.url}/push", data=b"x", timeout=10)
    assert response.status_code == 307
    assert len(public.requests) == 1 and internal.requests == []
    assert outbound.response_summary(response) == "HTTP 307 Temporary Redirect"


def test_the_session_refuses_to_connect_to_loopback(internal_server):
    with pytest.raises(outbound.OutboundRefused):
        outbound.session().post(f"{internal_server.url}/x", data=b"x", timeout=10)
    assert internal_server.requests == []


def test_provider_error_bodies_are_never_stored(
    web_push, make_contact, push_template, internal_server, settings
):
    settings.MESSAGING_OUTBOUND_EXEMPT_ORIGINS = [internal_server.url]  # plays a push service answering 500
    message = send_push_to(f"{internal_server.url}/push", make_contact(), push_template)
    assert len(internal_server.requests) == 1
    # A 500 is transient (issue 8): queued again with back-off; the reason names the status only.
    assert message.status == Message.Status.QUEUED
    assert "web push failed: HTTP 500 Internal Server Error" in message.reason
    assert "INTERNAL-SECRET-DATA" not in message.reason


def test_timeout_and_connection_errors_are_summarised():
    assert outbound.exception_summary(requests.exceptions.ConnectTimeout("x")) == "timed out"
    assert outbound.exception_summary(requests.exceptions.ConnectionError("secret")) == "could not connect"


@pytest.mark.parametrize(
    "endpoint",
    ["https://fcm.googleapis.com/fcm/send/abc", "https://wns2-by3p.notify.windows.com/w/?token=x"],
)
def test_the_browsers_push_services_pass_the_static_check(endpoint):
    assert outbound.push_endpoint_problem(endpoint) == ""
