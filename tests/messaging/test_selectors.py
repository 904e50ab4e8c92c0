import datetime as dt
from decimal import Decimal

import pytest
from django.utils.timezone import now

from contacts.models import Order, OrderLine, Product
from messaging.selectors import context_decode, context_encode, recommendations_for_contacts

pytestmark = pytest.mark.django_db

_orders = iter(range(1, 10_000))


def product(sku, *, category="", brand="", days_old=365):
    return Product.objects.create(
        sku=sku,
        name=sku.title(),
        category=category,
        brand=brand,
        created_at=now() - dt.timedelta(days=days_old),
    )


def order(contact, *lines, days_ago=10, status=Order.Status.PAID):
    o = Order.objects.create(
        external_id=f"o{next(_orders)}",
        contact=contact,
        placed_at=now() - dt.timedelta(days=days_ago),
        total=Decimal("10"),
        status=status,
    )
    for prod, quantity in lines:
        OrderLine.objects.create(
            order=o, product=prod, sku=prod.sku, quantity=quantity, unit_price=Decimal("5")
        )
    return o


def names(products):
    return [p["sku"] for p in products]


def test_recommendations_most_bought_then_new_in_last_order_categories_then_best_sellers(make_contact):
    shoes, socks, hat = product("shoes", category="feet"), product("socks", category="feet"), product("hat")
    product("boots", category="feet", days_old=2)
    new_cap = product("cap", brand="acme", days_old=2)
    old_boots = product("oldboots", category="feet", days_old=200)  # not new
    best = product("bestseller")
    buyer, other, newcomer = make_contact(), make_contact(), make_contact()
    order(buyer, (socks, 1), days_ago=100)
    order(buyer, (shoes, 3), (socks, 1), days_ago=50)
    order(buyer, (socks, 1), days_ago=5)  # last order: category feet
    order(buyer, (hat, 9), days_ago=1, status=Order.Status.REFUNDED)  # not a purchase
    order(other, (best, 50), days_ago=3)
    order(other, (new_cap, 1), days_ago=2)

    result = recommendations_for_contacts(contact_ids=[buyer.pk, newcomer.pk], limit=4)

    mine = result[buyer.pk]
    assert names(mine["bought_again"]) == ["socks", "shoes"]
    assert names(mine["new_arrivals"]) == ["boots"]  # new, in "feet", not already bought
    assert "oldboots" not in names(mine["recommendations"]) and old_boots.pk
    assert names(mine["recommendations"]) == ["socks", "shoes", "boots", "bestseller"]
    # No orders: best sellers only.
    assert names(result[newcomer.pk]["recommendations"])[:2] == [
        "bestseller",
        "shoes",
    ]  # last 90 days: 50, 3, 2
    assert result[newcomer.pk]["bought_again"] == []
    assert result[newcomer.pk]["new_arrivals"] == []


def test_recommendations_fall_back_to_newest_products_without_any_sales(make_contact):
    product("a", days_old=5)
    product("b", days_old=1)
    contact = make_contact()
    assert names(recommendations_for_contacts(contact_ids=[contact.pk])[contact.pk]["recommendations"]) == [
        "b",
        "a",
    ]


def test_recommendations_are_batched_not_per_contact(make_contact, django_assert_max_num_queries):
    p = product("p", category="c")
    contacts = [make_contact() for _ in range(30)]
    for contact in contacts:
        order(contact, (p, 1))
    with django_assert_max_num_queries(5):
        result = recommendations_for_contacts(contact_ids=[c.pk for c in contacts])
    assert len(result) == 30


def test_context_round_trips_dates_and_decimals():
    value = {"coupon": {"code": "X", "expires_at": dt.date(2030, 1, 2), "value": Decimal("5.50")}, "n": [1]}
    assert context_decode(context_encode(value)) == value
    with pytest.raises(TypeError):
        context_encode({"contact": object()})


def test_render_contexts_reads_products_only_for_templates_that_name_them(
    make_contact, email_template, django_assert_num_queries
):
    """Delivery skips the five product queries for a template that never names the product lists;
    a template that does (here only in its text part) gets them."""
    from messaging.models import Message, MessageTemplate
    from messaging.selectors import render_contexts

    socks = product("socks")
    buyer = make_contact()
    order(buyer, (socks, 2))
    with_products = MessageTemplate.objects.create(
        name="With products",
        channel="email",
        subject="Hi",
        html_body="<p>Hi</p>",
        text_body="{% for p in bought_again %}{{ p.name }}{% endfor %}",
    )
    plain = Message(contact=buyer, channel="email", template=email_template, context={}, pk=1)
    rich = Message(contact=buyer, channel="email", template=with_products, context={}, pk=2)
    with django_assert_num_queries(0):
        contexts = render_contexts(messages=[plain])
    assert "bought_again" not in contexts[1]
    contexts = render_contexts(messages=[plain, rich])
    assert names(contexts[2]["bought_again"]) == ["socks"]


def test_the_preferences_link_is_signed_only_for_templates_that_show_it(make_contact, email_template):
    """One HMAC less per email for templates without a preferences link; templates that show it (the
    shop layout's footer) and previews (no template) get a working, signed link."""
    from messaging import tokens
    from messaging.models import Message, MessageTemplate
    from messaging.selectors import render_contexts

    contact = make_contact()
    footer = MessageTemplate.objects.create(
        name="Footer", channel="email", subject="Hi", html_body='<a href="{{ preferences_url }}">Prefs</a>'
    )
    plain = Message(contact=contact, channel="email", template=email_template, context={}, pk=1)
    shown = Message(contact=contact, channel="email", template=footer, context={}, pk=2)
    preview = Message(contact=contact, channel="email", context={}, pk=3)
    contexts = render_contexts(messages=[plain, shown, preview])
    assert "preferences_url" not in email_template.html_body + email_template.text_body
    assert "preferences_url" not in contexts[1]
    for pk in (2, 3):
        token = contexts[pk]["preferences_url"].rstrip("/").rsplit("/", 1)[1]
        assert tokens.preferences_token_load(token) == contact.pk
    assert contexts[1]["unsubscribe_url"]  # List-Unsubscribe needs it whatever the template shows
