"""Rule validation messages, nested segments, the rule kinds over other apps and the selector contract."""

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Contact, Event, Order
from segments.models import ContactScore, Segment
from segments.rules import RuleError, rules_compile, rules_errors
from segments.selectors import segment_contacts, segment_contains
from tests.segments.helpers import contact

pytestmark = pytest.mark.django_db


def _errors(tree):
    return dict(rules_errors(tree))


def test_unknown_operator_field_and_wrong_value_type_are_reported_with_their_place():
    errors = _errors(
        {
            "op": "and",
            "rules": [
                {"field": "rfm_segment", "operator": "between", "value": ["Champions"]},
                {"field": "favourite_colour", "operator": "eq", "value": "red"},
                {"op": "or", "rules": [{"field": "purchase_count", "operator": "gte", "value": "two"}]},
                {"field": "rfm_segment", "operator": "in", "value": ["Champs"]},
                {"field": "last_purchase", "operator": "since", "value": "last tuesday"},
            ],
        }
    )
    assert "not valid for rfm_segment" in errors["rules[0].operator"]
    assert "in, not_in, eq, ne" in errors["rules[0].operator"]
    assert errors["rules[1].field"] == "unknown field 'favourite_colour'"
    assert "expected a whole number" in errors["rules[2].rules[0].value"]
    assert "unknown value(s) ['Champs']" in errors["rules[3].value"]
    assert "is not a date" in errors["rules[4].value"]


def test_group_shape_errors():
    assert "unknown group operator 'xor'" in _errors({"op": "xor", "rules": []})["op"]
    assert "exactly one rule" in _errors({"op": "not", "rules": [{}, {}]})["rules"]
    assert "expected a list" in _errors({"op": "and", "rules": {}})["rules"]
    assert _errors([1, 2]) == {"": "expected a group or a condition (an object), got [1, 2]"}
    assert "period" in _errors(
        {"field": "purchase_count", "operator": "gte", "value": 1, "period": {"days": 3}}
    )


def test_compile_raises_with_all_errors():
    with pytest.raises(RuleError) as info:
        rules_compile(
            {"op": "or", "rules": [{"field": "x", "operator": "eq"}, {"field": "y", "operator": "eq"}]}
        )
    assert len(info.value.errors) == 2


def test_empty_tree_is_everyone_and_empty_or_is_nobody():
    contact()
    contact()
    assert Contact.objects.filter(rules_compile({})).count() == 2
    assert Contact.objects.filter(rules_compile({"op": "and", "rules": []})).count() == 2
    assert Contact.objects.filter(rules_compile({"op": "or", "rules": []})).count() == 0


def test_referral_attributes_example_from_the_issue():
    dormant = contact(attributes={"referral_activity": "Dormant", "referral_successful_count": 2})
    contact(attributes={"referral_activity": "Active", "referral_successful_count": 3})
    contact(attributes={"referral_activity": "Dormant", "referral_successful_count": 0})
    contact(attributes={})
    tree = {
        "op": "and",
        "rules": [
            {"field": "attribute", "key": "referral_activity", "operator": "eq", "value": "Dormant"},
            {"field": "attribute", "key": "referral_successful_count", "operator": "gte", "value": 1},
        ],
    }
    assert list(Contact.objects.filter(rules_compile(tree))) == [dormant]


def test_relative_dates_are_evaluated_when_the_segment_is_used():
    buyer = contact()
    Order.objects.create(external_id="today", contact=buyer, placed_at=timezone.now(), total=10)
    segment = Segment.objects.create(
        name="Bought this month",
        rules={"field": "last_purchase", "operator": "within_last_days", "value": 30},
    )
    assert list(segment_contacts(segment=segment)) == [buyer]
    later = timezone.now() + dt.timedelta(days=31)
    assert list(segment_contacts(segment=segment, now=later)) == []


def test_nested_segments_and_cycles():
    vip = contact(attributes={"vip": "yes"})
    regular = contact()
    inner = Segment.objects.create(
        name="VIP", rules={"field": "attribute", "key": "vip", "operator": "exists"}
    )
    outer = Segment.objects.create(
        name="Not VIP", rules={"field": "segment", "operator": "not_in", "value": inner.pk}
    )
    assert set(segment_contacts(segment=outer)) == {regular}
    both = Segment.objects.create(
        name="VIP via two levels", rules={"field": "segment", "operator": "not_in", "value": outer.pk}
    )
    assert set(segment_contacts(segment=both)) == {vip}
    # Make VIP refer to "Not VIP": a cycle is a clear error, not a recursion crash.
    inner.rules = {"field": "segment", "operator": "in", "value": outer.pk}
    inner.save()
    errors = rules_errors(outer.rules, segment_id=outer.pk)
    assert "refers back to itself" in errors[0][1]
    assert "does not exist" in rules_errors({"field": "segment", "operator": "in", "value": 999_999})[0][1]


def test_segment_contains_checks_a_list_of_ids():
    a, b, c = contact(country="DE"), contact(country="FR"), contact(country="DE")
    segment = Segment.objects.create(
        name="Germany", rules={"field": "country", "operator": "eq", "value": "DE"}
    )
    assert segment_contains(segment=segment, contact_ids=[a.pk, b.pk, c.pk, 12345]) == {a.pk, c.pk}
    assert segment_contains(segment=segment, contact_ids=[]) == set()


def test_segment_contacts_is_one_query(django_assert_num_queries):
    contact(country="DE")
    inner = Segment.objects.create(name="DE", rules={"field": "country", "operator": "eq", "value": "DE"})
    segment = Segment.objects.create(
        name="Engaged Germans",
        rules={
            "op": "and",
            "rules": [
                {"field": "segment", "operator": "in", "value": inner.pk},
                {"field": "purchase_count", "operator": "gte", "value": 2, "period": {"last_days": 90}},
                {"field": "email_opened", "operator": "within_last_days", "value": 30},
                {"field": "rfm_segment", "operator": "in", "value": ["Champions"]},
            ],
        },
    )
    queryset = segment_contacts(segment=segment)  # reads the nested segment's rules (1 query)
    with django_assert_num_queries(1):
        list(queryset)


def test_lifecycle_never_includes_contacts_not_scored_yet():
    fresh = contact()
    scored = contact()
    ContactScore.objects.create(contact=scored, lifecycle_stage="active")
    tree = {"field": "lifecycle_stage", "operator": "in", "value": ["never"]}
    assert list(Contact.objects.filter(rules_compile(tree))) == [fresh]


def test_engagement_for_a_given_message():
    opener = contact()
    Event.objects.create(contact=opener, kind="email_open", message_id=7)
    other = contact()
    Event.objects.create(contact=other, kind="email_open", message_id=8)
    tree = {"field": "email_opened", "operator": "within_last_days", "value": 7, "message_id": 7}
    assert list(Contact.objects.filter(rules_compile(tree))) == [opener]


def test_coupon_rules():
    from coupons.models import Coupon, CouponPool

    pool = CouponPool.objects.create(name="Winback 10")
    other_pool = CouponPool.objects.create(name="Summer")
    holder, redeemer, nobody = contact(), contact(), contact()
    now = timezone.now()
    Coupon.objects.create(pool=pool, code="A", contact=holder, assigned_at=now)
    Coupon.objects.create(pool=pool, code="B", contact=redeemer, assigned_at=now, redeemed_at=now)
    Coupon.objects.create(pool=other_pool, code="C", contact=nobody, assigned_at=now - dt.timedelta(days=400))

    def pick(**cond):
        return set(Contact.objects.filter(rules_compile({"field": "coupon", **cond})))

    assert pick(operator="assigned", pool=pool.pk) == {holder, redeemer}
    assert pick(operator="redeemed") == {redeemer}
    assert pick(operator="assigned_not_redeemed", pool=pool.pk) == {holder}
    assert pick(operator="not_assigned", pool=pool.pk) == {nobody}
    assert pick(operator="assigned", period={"last_days": 30}) == {holder, redeemer}


def test_message_rules():
    from messaging.models import Message, MessageTemplate

    template = MessageTemplate.objects.create(name="Miss you")
    opened, sent_only = contact(), contact()
    now = timezone.now()
    Message.objects.create(
        contact=opened, channel="email", template=template, idempotency_key="1", sent_at=now, opened_at=now,
        journey_id=5, step_id=9,
    )  # fmt: skip
    Message.objects.create(
        contact=sent_only, channel="email", template=template, idempotency_key="2", sent_at=now
    )

    def pick(**cond):
        return set(Contact.objects.filter(rules_compile({"field": "message", **cond})))

    assert pick(operator="sent", template=template.pk) == {opened, sent_only}
    assert pick(operator="opened", template=template.pk, period={"last_days": 7}) == {opened}
    assert pick(operator="not_opened", journey=5) == {sent_only}
    assert pick(operator="clicked", step=9) == set()


def test_journey_rules():
    from journeys.models import Enrollment, Journey, JourneyVersion

    journey = Journey.objects.create(name="Winback")
    version = JourneyVersion.objects.create(journey=journey, number=1)
    inside, done, outside = contact(), contact(), contact()
    Enrollment.objects.create(
        journey=journey, version=version, contact=inside, state="waiting", entry_key="a"
    )
    Enrollment.objects.create(
        journey=journey, version=version, contact=done, state="completed", entry_key="a"
    )

    def pick(**cond):
        return set(Contact.objects.filter(rules_compile({"field": "journey", "value": journey.pk, **cond})))

    assert pick(operator="enrolled") == {inside, done}
    assert pick(operator="enrolled", state=["active", "waiting"]) == {inside}
    assert pick(operator="not_enrolled") == {outside}
    assert (
        "unknown value"
        in rules_errors({"field": "journey", "operator": "enrolled", "value": 1, "state": "x"})[0][1]
    )


def test_every_field_has_a_valid_example():
    from segments.rules import EXAMPLES, FIELDS

    assert set(EXAMPLES) == set(FIELDS)
    for name, example in EXAMPLES.items():
        errors = rules_errors(example)
        if name == "segment":
            assert "does not exist" in errors[0][1]
        else:
            assert errors == [], (name, errors)
