import json
import re

import pytest
from django.core import signing
from django.test import Client

from contacts.models import Contact, Event
from contacts.signals import contacts_changed
from messaging import tokens
from messaging.models import DeliveryEvent, Message, PushSubscription
from messaging.services import Outgoing, messages_deliver, messages_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_email(smtp_sink, make_contact, email_template):
    contact = make_contact()
    ids = messages_queue(
        template=email_template,
        outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="k1", context={"coupon": {"code": "C1"}})],
    )
    messages_deliver(message_ids=ids)
    (mail,) = smtp_sink.received
    return Message.objects.get(pk=ids[0]), mail


def path_of(url):
    return url.removeprefix("http://testserver")


def links(mail):
    html = mail.get_body(("html",)).get_content()
    return re.findall(r'(?:href|src)="(http://testserver/m/[^"]+)"', html)


def test_open_pixel_records_first_open_once(client, sent_email):
    message, mail = sent_email
    (pixel,) = [u for u in links(mail) if "/m/o/" in u]
    for _ in range(2):
        response = client.get(path_of(pixel))
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    message.refresh_from_db()
    assert message.opened_at is not None
    assert Event.objects.filter(kind=Event.Kind.EMAIL_OPEN, message_id=message.pk).count() == 1


def test_click_redirects_only_to_the_signed_url_and_records(client, sent_email):
    message, mail = sent_email
    (click,) = [u for u in links(mail) if "/m/c/" in u]
    response = client.get(path_of(click))
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/sale?x=1&y=2"
    message.refresh_from_db()
    assert message.clicked_at is not None and message.opened_at is not None
    event = Event.objects.get(kind=Event.Kind.EMAIL_CLICK)
    assert (event.message_id, event.properties["url"]) == (
        message.pk,
        "https://shop.example.com/sale?x=1&y=2",
    )


def test_tampered_or_foreign_tokens_are_rejected(client, sent_email):
    message, _mail = sent_email
    good = signing.loads(
        path_of(tokens.click_url(message.pk, "https://shop.example.com/")).split("/")[3],
        salt=tokens.CLICK_SALT,
    )
    assert good["u"] == "https://shop.example.com/"
    forged = signing.dumps({"m": message.pk, "u": "https://evil.example/"}, salt="wrong-salt", compress=True)
    other_key = signing.dumps(
        {"m": message.pk, "u": "https://evil.example/"}, key="not-our-secret", salt=tokens.CLICK_SALT
    )
    for bad in (
        forged,
        other_key,
        "garbage",
        tokens.click_url(message.pk, "https://a.example/").split("/")[-2] + "x",
    ):
        assert client.get(f"/m/c/{bad}/").status_code == 404
    # An unsubscribe token is not a click token and vice versa (salts differ).
    unsub_token = path_of(tokens.unsubscribe_url(message.contact_id)).split("/")[3]
    assert client.get(f"/m/c/{unsub_token}/").status_code == 404
    assert client.get("/m/o/garbage.gif").status_code == 404
    assert client.post("/m/u/garbage/").status_code == 404
    assert Event.objects.count() == 0


def test_one_click_unsubscribe_post_without_csrf_and_later_messages_suppressed(
    sent_email, email_template, django_capture_on_commit_callbacks
):
    message, mail = sent_email
    url = mail["List-Unsubscribe"].split(",")[0].strip("<> ")
    received = []

    def receiver(sender, contact_ids, **kwargs):
        received.append(contact_ids)

    contacts_changed.connect(receiver)
    try:
        client = Client(enforce_csrf_checks=True)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                path_of(url),
                data="List-Unsubscribe=One-Click",
                content_type="application/x-www-form-urlencoded",
            )
    finally:
        contacts_changed.disconnect(receiver)
    assert response.status_code == 200
    contact = Contact.objects.get(pk=message.contact_id)
    assert contact.email_consent is False
    assert contact.email_consent_source == Contact.ConsentSource.UNSUBSCRIBE
    assert contact.email_consent_at is not None
    assert contact.status == Contact.Status.ACTIVE  # still consents to SMS and push
    message.refresh_from_db()
    assert message.unsubscribed_at is not None
    event = Event.objects.get(kind=Event.Kind.UNSUBSCRIBE)
    assert event.message_id == message.pk and event.properties["channel"] == "email"
    assert received == [[contact.pk]]  # sent after commit
    later = messages_queue(
        template=email_template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="k2", context={})]
    )
    assert later == []
    assert Message.objects.get(idempotency_key="k2").reason == "no email consent"


def test_unsubscribe_get_shows_a_confirm_page_and_changes_nothing(client, sent_email):
    message, mail = sent_email
    url = mail["List-Unsubscribe"].split(",")[0].strip("<> ")
    response = client.get(path_of(url))
    assert response.status_code == 200
    assert b'<form method="post">' in response.content
    assert Contact.objects.get(pk=message.contact_id).email_consent is True


def test_public_pages_name_the_shop_the_contact_is_leaving(client, sent_email, settings):
    settings.WINBACK_SHOP_NAME = "Kaffeehaus Berger"
    message, mail = sent_email
    url = mail["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert "Kaffeehaus Berger" in client.get(path_of(url)).content.decode()
    preferences = client.get(path_of(tokens.preferences_url(message.contact_id)))
    assert "Kaffeehaus Berger" in preferences.content.decode()


def test_last_consent_withdrawn_makes_contact_unsubscribed(client, make_contact):
    contact = make_contact(sms_consent=False, push_consent=False)
    client.post(path_of(tokens.unsubscribe_url(contact.pk)))
    contact.refresh_from_db()
    assert contact.status == Contact.Status.UNSUBSCRIBED


def test_preferences_page_sets_consent_per_channel(client, make_contact):
    contact = make_contact()
    url = path_of(tokens.preferences_url(contact.pk))
    page = client.get(url)
    assert page.status_code == 200 and b'name="email" checked' in page.content
    response = client.post(url, {"email": "on", "push": "on"})  # sms unticked
    assert response.status_code == 200 and b"Saved." in response.content
    contact.refresh_from_db()
    assert (contact.email_consent, contact.sms_consent, contact.push_consent) == (True, False, True)
    assert contact.sms_consent_source == Contact.ConsentSource.PREFERENCES
    client.post(url, {"everything": "off"})
    contact.refresh_from_db()
    assert contact.status == Contact.Status.UNSUBSCRIBED
    client.post(url, {"email": "on"})  # opting in again
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE and contact.email_consent


def post_webhook(client, payload, secret="webhook-secret"):  # noqa: S107
    return client.post(
        "/m/webhooks/bounce/",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"X-Webhook-Secret": secret},
    )


def test_bounce_webhook_marks_contact_and_message(client, sent_email):
    message, _mail = sent_email
    assert (
        post_webhook(client, {"message_id": message.pk, "type": "bounce"}, secret="wrong").status_code == 403
    )
    response = post_webhook(client, {"message_id": message.pk, "type": "bounce"})
    assert response.json() == {"ok": True, "matched_contact": True}
    message.refresh_from_db()
    assert message.status == Message.Status.BOUNCED
    assert Contact.objects.get(pk=message.contact_id).status == Contact.Status.BOUNCED
    assert Event.objects.filter(kind=Event.Kind.BOUNCE, contact_id=message.contact_id).exists()
    assert DeliveryEvent.objects.get().kind == "bounce"


def test_complaint_webhook_by_email_unsubscribes(client, make_contact):
    contact = make_contact(email="Someone@Example.com".lower())
    response = post_webhook(client, {"email": "SOMEONE@example.com", "type": "complaint"})
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.email_consent is False and contact.status == Contact.Status.UNSUBSCRIBED
    assert Event.objects.filter(kind=Event.Kind.COMPLAINT).count() == 1
    assert post_webhook(client, {"email": "x@example.com", "type": "nonsense"}).status_code == 400
    assert post_webhook(client, {"type": "bounce"}).status_code == 400


def test_webhook_disabled_without_secret(client, settings, sent_email):
    settings.MESSAGING_WEBHOOK_SECRET = ""
    assert (
        post_webhook(client, {"message_id": sent_email[0].pk, "type": "bounce"}, secret="").status_code == 403
    )


def test_push_subscribe_with_signed_token(client, make_contact):
    contact = make_contact(push_consent=False)
    body = {
        "token": tokens.push_subscribe_token(contact.pk),
        "subscription": {"endpoint": "https://push.example.com/abc", "keys": {"p256dh": "k", "auth": "a"}},
    }
    response = client.post("/m/push/subscribe/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    subscription = PushSubscription.objects.get()
    assert subscription.contact_id == contact.pk and subscription.active
    contact.refresh_from_db()
    assert contact.push_consent is True
    body["token"] = tokens.preferences_url(contact.pk).split("/")[-2]  # a token for something else
    assert (
        client.post("/m/push/subscribe/", data=json.dumps(body), content_type="application/json").status_code
        == 403
    )
    assert client.post("/m/push/subscribe/", data="{}", content_type="application/json").status_code == 403


def subscribe(client, contact, endpoint="https://push.example.com/abc", p256dh="k", auth="a"):
    body = {
        "token": tokens.push_subscribe_token(contact.pk),
        "subscription": {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
    }
    return client.post("/m/push/subscribe/", data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:6379/",  # plain http to a local service
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://LOCALHOST./x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/x",
        "https://0x7f000001/x",
        "https://2130706433/x",
        "https://user:pw@push.example.com/x",
        "https:///x",
        "ftp://push.example.com/x",
        "https://metadata.attacker.example.org/x",
        "https://evilpush.example.com/x",
    ],
)
def test_push_subscribe_refuses_endpoints_the_worker_must_not_call(client, make_contact, endpoint):
    contact = make_contact(push_consent=False)
    response = subscribe(client, contact, endpoint=endpoint)
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()
    contact.refresh_from_db()
    assert contact.push_consent is False


def test_push_subscribe_accepts_the_browsers_push_services(client, make_contact, settings):
    settings.MESSAGING_PUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com", "*.notify.windows.com"]
    contact = make_contact()
    assert subscribe(client, contact, endpoint="https://fcm.googleapis.com/fcm/send/abc").status_code == 201
    assert subscribe(client, contact, endpoint="https://wns2.notify.windows.com/w/?t=x").status_code == 201
    assert subscribe(client, contact, endpoint="https://notify.windows.com.evil.example/x").status_code == 400
    assert PushSubscription.objects.filter(contact=contact).count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"endpoint": "https://push.example.com/" + "a" * 1000},
        {"p256dh": "k" * 201},
        {"auth": "a" * 101},
        {"p256dh": ""},
        {"auth": {"nested": 1}},
    ],
)
def test_push_subscribe_rejects_oversized_or_malformed_subscriptions(client, make_contact, fields):
    response = subscribe(client, make_contact(), **fields)
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize("body", ["[]", '"x"', "3", "null", "{", "\xff"])
def test_public_json_endpoints_answer_400_or_403_to_junk(client, body):
    for url in ("/m/push/subscribe/", "/m/webhooks/bounce/"):
        response = client.post(
            url, data=body, content_type="application/json", headers={"X-Webhook-Secret": "webhook-secret"}
        )
        assert response.status_code in (400, 403), (url, body, response.status_code)


def test_bounce_webhook_with_an_out_of_range_message_id_is_harmless(client):
    response = post_webhook(client, {"type": "bounce", "message_id": 10**30})
    assert response.status_code in (200, 400)
    assert not Contact.objects.exists()


@pytest.mark.parametrize(("channel", "field"), [("sms", "sms_consent"), ("push", "push_consent")])
def test_unsubscribe_link_of_an_sms_or_push_turns_off_that_channel(
    client, make_contact, sms_template, push_template, channel, field
):
    contact = make_contact()
    PushSubscription.objects.create(
        contact=contact, endpoint="https://push.example.com/1", p256dh="k", auth="a"
    )
    template = sms_template if channel == "sms" else push_template
    (message_id,) = messages_queue(
        template=template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="s1", context={})]
    )
    messages_deliver(message_ids=[message_id])
    url = path_of(tokens.unsubscribe_url(contact.pk, message_id))
    page = client.get(url)
    assert page.status_code == 200
    assert contact.email not in page.content.decode()  # it is not about email
    client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    contact.refresh_from_db()
    assert getattr(contact, field) is False
    assert contact.email_consent is True
    assert Message.objects.get(pk=message_id).unsubscribed_at is not None
    assert Event.objects.get(kind=Event.Kind.UNSUBSCRIBE).properties["channel"] == channel


def test_open_pixel_is_one_update_after_the_first_open_and_keeps_the_first_time(
    client, sent_email, django_assert_num_queries
):
    import datetime as dt

    message, mail = sent_email
    (pixel,) = [u for u in links(mail) if "/m/o/" in u]
    assert client.get(path_of(pixel)).status_code == 200
    first = Message.objects.get(pk=message.pk).opened_at
    for _ in range(3):
        with django_assert_num_queries(1):
            assert client.get(path_of(pixel)).status_code == 200
    assert Message.objects.get(pk=message.pk).opened_at == first
    assert first > message.created_at - dt.timedelta(seconds=1)
    # A valid token for a message that no longer exists: still a pixel, one query, nothing recorded.
    with django_assert_num_queries(1):
        assert client.get(path_of(tokens.open_url(10**9))).status_code == 200
    assert Event.objects.filter(kind=Event.Kind.EMAIL_OPEN).count() == 1


def test_click_costs_a_fixed_few_queries_and_replays_cannot_flood_events(
    client, sent_email, django_assert_max_num_queries
):
    from messaging.services import MAX_CLICK_EVENTS_PER_MESSAGE

    message, mail = sent_email
    (click,) = [u for u in links(mail) if "/m/c/" in u]
    for _ in range(MAX_CLICK_EVENTS_PER_MESSAGE + 5):
        with django_assert_max_num_queries(4):
            assert client.get(path_of(click)).status_code == 302
    assert Event.objects.filter(kind=Event.Kind.EMAIL_CLICK).count() == MAX_CLICK_EVENTS_PER_MESSAGE
    message.refresh_from_db()
    assert message.clicked_at is not None and message.opened_at is not None


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "ftp://evil.example/",
        "mailto:x@evil.example",
        " https://evil.example/",
        "\x00https://evil.example/",
        "https:evil.example",
        "https:/\\evil.example",
        "https://evil.example/\r\nSet-Cookie: a=b",
        "https://",
        "/m/u/relative/",
    ],
)
def test_click_refuses_unsafe_targets_even_when_signed(client, sent_email, target):
    message, _mail = sent_email
    response = client.get(path_of(tokens.click_url(message.pk, target)))
    assert response.status_code == 400
    assert "Location" not in response
    assert not Event.objects.filter(kind=Event.Kind.EMAIL_CLICK).exists()


def test_click_accepts_an_upper_case_scheme_the_link_rewriter_tracked(client, sent_email):
    from messaging.rendering import track_links

    message, _mail = sent_email
    html = track_links('<a href="HTTPS://shop.example.com/a">x</a>', message_id=message.pk)
    url = re.search(r'href="([^"]+)"', html).group(1)
    response = client.get(path_of(url.replace("&amp;", "&")))
    assert response.status_code == 302
    assert response["Location"].lower() == "https://shop.example.com/a"


def test_preferences_form_is_csrf_protected(make_contact):
    contact = make_contact()
    url = path_of(tokens.preferences_url(contact.pk))
    client = Client(enforce_csrf_checks=True)
    assert client.post(url, {"everything": "off"}).status_code == 403
    contact.refresh_from_db()
    assert contact.email_consent and contact.status == Contact.Status.ACTIVE
    page = client.get(url)  # the form carries the token: a real visitor can save
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    assert client.post(url, {"everything": "off", "csrfmiddlewaretoken": csrf}).status_code == 200
    contact.refresh_from_db()
    assert contact.status == Contact.Status.UNSUBSCRIBED


def test_unsubscribe_answers_only_get_and_post(client, make_contact):
    url = path_of(tokens.unsubscribe_url(make_contact().pk))
    for method in ("put", "delete", "patch"):
        assert getattr(client, method)(url).status_code == 405
    assert Contact.objects.get().email_consent is True


def test_one_contact_keeps_at_most_a_few_active_push_subscriptions(client, make_contact):
    """A leaked subscribe token must not turn one push message into thousands of requests."""
    from messaging.services import MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT

    contact = make_contact()
    for n in range(MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT + 3):
        assert subscribe(client, contact, endpoint=f"https://push.example.com/{n}").status_code == 201
    active = PushSubscription.objects.filter(contact=contact, active=True)
    assert active.count() == MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT
    assert not active.filter(endpoint__in=[f"https://push.example.com/{n}" for n in range(3)]).exists()
    # The browser that subscribes again (an old endpoint) is the newest one now.
    assert subscribe(client, contact, endpoint="https://push.example.com/0").status_code == 201
    assert active.count() == MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT
    assert active.filter(endpoint="https://push.example.com/0").exists()


def test_bad_tokens_get_the_same_plain_404_everywhere(client, make_contact):
    contact = make_contact()
    good = path_of(tokens.unsubscribe_url(contact.pk)).split("/")[3]
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    bodies = set()
    for url in (f"/m/u/{tampered}/", f"/m/p/{tampered}/", f"/m/c/{tampered}/", f"/m/o/{tampered}.gif"):
        response = client.get(url)
        assert response.status_code == 404
        body = response.content.decode()
        assert "Signature" not in body and contact.email not in body and tampered not in body
        bodies.add(body)
    assert len(bodies) == 1


def test_saving_preferences_leaves_channels_that_were_not_offered_alone(client, make_contact):
    contact = make_contact(phone="", sms_consent=True)  # no phone: the SMS box is disabled
    url = path_of(tokens.preferences_url(contact.pk))
    assert b'name="sms" checked disabled' in client.get(url).content
    client.post(url, {"email": "on", "push": "on"})  # browsers do not submit disabled boxes
    contact.refresh_from_db()
    assert contact.sms_consent is True
    assert not Event.objects.filter(kind=Event.Kind.UNSUBSCRIBE).exists()
    client.post(url, {"everything": "off"})
    contact.refresh_from_db()
    assert (contact.email_consent, contact.sms_consent, contact.push_consent) == (False, False, False)
