import json
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from contacts.importing import records_import
from contacts.models import ApiToken, Contact, Event, Order
from contacts.services.tokens import apitoken_authenticate, apitoken_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    return apitoken_create(name="Shop")[1]


def post(client, url, payload, token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(url, data=json.dumps(payload), content_type="application/json", **headers, **extra)


def test_token_is_stored_as_a_hash_and_shown_once():
    token, raw = apitoken_create(name="Shopify")
    assert raw.startswith("wb_") and raw not in (token.key_hash, token.prefix)
    assert len(token.key_hash) == 64
    assert apitoken_authenticate(raw=raw) == token
    assert apitoken_authenticate(raw=raw + "x") is None
    ApiToken.objects.filter(pk=token.pk).update(is_active=False)
    assert apitoken_authenticate(raw=raw) is None


@pytest.mark.parametrize("header", [None, "Bearer wb_wrong", "Token abc", "Bearer "])
def test_missing_or_invalid_token_is_401(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post("/api/contacts/", data="{}", content_type="application/json", **extra)
    assert response.status_code == 401
    assert Contact.objects.count() == 0


@pytest.mark.parametrize("url", ["/api/contacts/", "/api/orders/", "/api/events/"])
def test_wrong_method_is_405(client, token, url):
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 405


def test_one_contact_is_created_then_updated_idempotently(client, token):
    payload = {
        "external_id": "C-1",
        "email": "Anna@Example.com",
        "email_consent": "yes",
        "phone": "0151 1234567",
    }
    first = post(client, "/api/contacts/", payload, token)
    assert first.status_code == 200, first.content
    assert first.json() == {"received": 1, "created": 1, "updated": 0}
    second = post(client, "/api/contacts/", {**payload, "first_name": "Anna"}, token)
    assert second.json() == {"received": 1, "created": 0, "updated": 1}
    contact = Contact.objects.get()
    assert (contact.email, contact.phone, contact.first_name) == ("anna@example.com", "+491511234567", "Anna")
    assert contact.email_consent_source == Contact.ConsentSource.API


def test_batch_with_one_bad_row_writes_nothing_and_lists_row_errors(client, token):
    payload = [
        {"external_id": "C-1", "email": "good@example.com"},
        {"external_id": "C-2", "email": "bad-email"},
        {"external_id": "C-3", "email": "c@example.com", "signed_up_at": "someday", "colour": "red"},
    ]
    response = post(client, "/api/contacts/", payload, token)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"row": 1, "column": "email", "message": "'bad-email' is not a valid email address."} in errors
    assert {"row": 2, "column": "colour", "message": "Unknown field."} in errors
    assert Contact.objects.count() == 0


def test_contact_attributes_are_merged(client, token):
    post(
        client,
        "/api/contacts/",
        {"email": "a@example.com", "attributes": {"referral_activity": "Active"}},
        token,
    )
    post(
        client,
        "/api/contacts/",
        {"email": "a@example.com", "attributes": {"referral_successful_count": 2}},
        token,
    )
    assert Contact.objects.get().attributes == {"referral_activity": "Active", "referral_successful_count": 2}


def test_orders_batch_with_lines_is_idempotent(client, token):
    payload = [
        {
            "order_id": "O-1",
            "customer_id": "C-1",
            "email": "a@example.com",
            "placed_at": "2024-11-29T10:00:00+01:00",
            "currency": "EUR",
            "coupon_code": "BF",
            "lines": [
                {"sku": "S-1", "product_name": "Tee", "quantity": 2, "unit_price": "10.00"},
                {"sku": "S-2", "product_name": "Mug", "quantity": 1, "unit_price": 4.5},
            ],
        },
        {"order_id": "O-2", "email": "b@example.com", "placed_at": "2024-12-01", "total": "19,90"},
    ]
    assert post(client, "/api/orders/", payload, token).json() == {"received": 2, "created": 2, "updated": 0}
    assert post(client, "/api/orders/", payload, token).json() == {"received": 2, "created": 0, "updated": 2}
    order = Order.objects.get(external_id="O-1")
    assert order.total == Decimal("24.50")
    assert order.lines.count() == 2
    assert Order.objects.get(external_id="O-2").total == Decimal("19.90")
    assert Contact.objects.count() == 2


def test_order_without_date_is_rejected(client, token):
    response = post(client, "/api/orders/", {"order_id": "O-1", "email": "a@example.com", "total": 5}, token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["column"] == "placed_at"
    assert Order.objects.count() == 0


def test_events_are_recorded_once_per_external_id(client, token):
    payload = [
        {
            "external_id": "E-1",
            "email": "a@example.com",
            "kind": "site_visit",
            "occurred_at": "2024-11-01T10:00:00Z",
        },
        {
            "external_id": "E-2",
            "email": "a@example.com",
            "kind": "product_view",
            "properties": {"sku": "S-1"},
        },
    ]
    assert post(client, "/api/events/", payload, token).json()["created"] == 2
    assert post(client, "/api/events/", payload, token).json() == {"received": 2, "created": 0, "updated": 2}
    assert Event.objects.count() == 2
    assert Event.objects.get(external_id="E-2").properties == {"sku": "S-1"}
    assert Contact.objects.get().last_activity_at is not None


def test_unknown_event_kind_is_a_row_error(client, token):
    response = post(client, "/api/events/", {"email": "a@example.com", "kind": "teleport"}, token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["column"] == "kind"


def test_invalid_json_is_400(client, token):
    response = client.post(
        "/api/contacts/", data="{nope", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 400


def test_body_over_the_limit_is_413(client, token, settings):
    settings.WINBACK_API_MAX_BODY_BYTES = 100
    response = post(client, "/api/contacts/", [{"email": f"p{i}@example.com"} for i in range(20)], token)
    assert response.status_code == 413
    assert Contact.objects.count() == 0


def test_api_is_csrf_exempt(token):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert post(client, "/api/contacts/", {"email": "a@example.com"}, token).status_code == 200


@pytest.mark.parametrize(
    ("url", "payload", "column"),
    [
        ("/api/contacts/", {"email": "a@example.com", "first_name": {"a": 1}}, "first_name"),
        ("/api/contacts/", {"email": "a@example.com", "external_id": True}, "external_id"),
        ("/api/contacts/", {"email": "a@example.com", "tags": [1, {"x": 1}]}, "tags"),
        ("/api/contacts/", {"email": "a@example.com", "signed_up_at": 1700000000}, "signed_up_at"),
        ("/api/contacts/", {"email": "a@example.com", "email_consent": [True]}, "email_consent"),
        (
            "/api/orders/",
            {"order_id": {"a": 1}, "email": "a@example.com", "placed_at": "2024-01-01", "total": 1},
            "order_id",
        ),  # fmt: skip
        (
            "/api/orders/",
            {"order_id": "O-1", "email": "a@example.com", "placed_at": "2024-01-01", "total": [1]},
            "total",
        ),  # fmt: skip
        (
            "/api/orders/",
            {
                "order_id": "O-1",
                "email": "a@example.com",
                "placed_at": "2024-01-01",
                "lines": [{"sku": ["S"], "unit_price": 1}],
            },
            "sku",
        ),  # fmt: skip
        (
            "/api/events/",
            {"email": "a@example.com", "kind": "custom", "properties": "not an object"},
            "properties",
        ),
        ("/api/events/", {"email": "a@example.com", "kind": "custom", "message_id": "1" * 30}, "message_id"),
    ],
)
def test_fields_of_the_wrong_json_type_are_row_errors(client, token, url, payload, column):
    response = post(client, url, [{"email": "fine@example.com", "kind": "custom"} if "events" in url else
                                  {"email": "fine@example.com"} if "contacts" in url else
                                  {"order_id": "O-0", "email": "fine@example.com", "placed_at": "2024-01-01",
                                   "total": 1}, payload], token)  # fmt: skip
    assert response.status_code == 400, response.content
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(1, column)]
    assert (Contact.objects.count(), Order.objects.count(), Event.objects.count()) == (0, 0, 0)


def test_batch_above_the_maximum_is_refused_with_413(client, token, monkeypatch):
    monkeypatch.setattr("contacts.api.MAX_ITEMS", 3)
    response = post(client, "/api/contacts/", [{"email": f"p{i}@example.com"} for i in range(4)], token)
    assert response.status_code == 413
    assert "At most 3 objects" in response.json()["error"]
    assert Contact.objects.count() == 0


def test_inactive_token_is_refused(client):
    token, raw = apitoken_create(name="Old shop")
    ApiToken.objects.filter(pk=token.pk).update(is_active=False)
    assert post(client, "/api/contacts/", {"email": "a@example.com"}, raw).status_code == 401
    assert Contact.objects.count() == 0


def test_token_use_is_written_at_most_once_a_minute(client, token, django_assert_num_queries):
    post(client, "/api/events/", {"email": "a@example.com", "kind": "custom"}, token)
    stamped = ApiToken.objects.get().last_used_at
    assert stamped is not None
    with CaptureQueriesContext(connection) as queries:
        post(client, "/api/events/", {"email": "a@example.com", "kind": "custom"}, token)
    assert not [q for q in queries if "UPDATE" in q["sql"] and "apitoken" in q["sql"]]
    assert ApiToken.objects.get().last_used_at == stamped


@pytest.mark.django_db(transaction=True)
def test_two_requests_creating_the_same_contact_at_once_both_succeed():
    """The second request's insert collides with the first one's (committed meanwhile): retried."""
    from django.test import Client

    raw = apitoken_create(name="Shop")[1]
    first_wrote, outcome = threading.Event(), {}

    def first() -> None:
        try:
            with transaction.atomic():
                records_import(kind="contacts", records=[{"external_id": "R-1", "email": "r@example.com"}])
                first_wrote.set()
                time.sleep(0.5)  # the second request reads and inserts meanwhile
        finally:
            first_wrote.set()
            connection.close()

    def second() -> None:
        first_wrote.wait(5)
        try:
            payload = {"external_id": "R-1", "email": "r@example.com", "first_name": "Second"}
            outcome["response"] = post(Client(raise_request_exception=False), "/api/contacts/", payload, raw)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    response = outcome["response"]
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 1, "created": 0, "updated": 1}
    assert list(Contact.objects.values_list("external_id", "first_name")) == [("R-1", "Second")]


def test_deeply_nested_json_is_400_not_500(client, token):
    body = "[" * 50_000 + "]" * 50_000
    response = client.post(
        "/api/contacts/", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_two_requests_sending_the_same_new_order_at_once_leave_one_order_with_its_lines():
    from django.test import Client

    from contacts.models import OrderLine

    raw = apitoken_create(name="Shop")[1]
    order = {
        "order_id": "O-9",
        "customer_id": "R-9",
        "email": "r9@example.com",
        "placed_at": "2024-11-29T10:00:00+01:00",
        "lines": [{"sku": "S-1", "quantity": 2, "unit_price": "10.00"}, {"sku": "S-2", "unit_price": 5}],
    }
    first_wrote, outcome = threading.Event(), {}

    def first() -> None:
        try:
            with transaction.atomic():
                records_import(kind="orders", records=[order])
                first_wrote.set()
                time.sleep(0.5)
        finally:
            first_wrote.set()
            connection.close()

    def second() -> None:
        first_wrote.wait(5)
        try:
            outcome["response"] = post(Client(raise_request_exception=False), "/api/orders/", order, raw)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert outcome["response"].status_code == 200, outcome["response"].content
    assert (Order.objects.count(), OrderLine.objects.count(), Contact.objects.count()) == (1, 2, 1)
    assert Order.objects.get().total == Decimal("25.00")
