"""rules_counted: one positive tag or event condition is counted from the child rows' distinct contact
ids (no join back to contacts); the number always equals counting the contacts the rule matches."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Contact, Event, Tag
from segments.models import Segment
from segments.rules import rules_compile, rules_counted
from segments.selectors import rules_count_within, rules_preview
from segments.services import segment_evaluate
from tests.segments.helpers import contact

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def shop():
    vip, news = Tag.objects.create(name="VIP"), Tag.objects.create(name="Newsletter")
    people = [contact() for _ in range(8)]
    for person in people[:3]:
        person.tags.add(vip)
    for person in people[2:6]:
        person.tags.add(news)
    # Two opens for the same person, one old open, one click: distinct people are counted once.
    Event.objects.create(contact=people[0], kind="email_open", occurred_at=NOW - dt.timedelta(days=1))
    Event.objects.create(contact=people[0], kind="email_open", occurred_at=NOW - dt.timedelta(days=2))
    Event.objects.create(
        contact=people[1], kind="email_open", occurred_at=NOW - dt.timedelta(days=5), message_id=7
    )
    Event.objects.create(contact=people[4], kind="email_open", occurred_at=NOW - dt.timedelta(days=200))
    Event.objects.create(contact=people[5], kind="email_click", occurred_at=NOW - dt.timedelta(days=1))
    return people


TREES = [
    {"field": "tags", "operator": "has_any", "value": ["vip"]},
    {"field": "tags", "operator": "has_any", "value": ["VIP", "newsletter"]},
    {"field": "tags", "operator": "has_any", "value": ["nobody-has-this"]},
    {"field": "tags", "operator": "has_all", "value": ["vip", "newsletter"]},
    {"field": "tags", "operator": "has_none", "value": ["vip"]},
    {"field": "email_opened", "operator": "within_last_days", "value": 30},
    {"field": "email_opened", "operator": "within_last_days", "value": 30, "message_id": 7},
    {"field": "email_opened", "operator": "not_within_last_days", "value": 30},
    {"op": "and", "rules": [{"field": "tags", "operator": "has_any", "value": ["vip"]}]},
    {"op": "not", "rules": [{"field": "tags", "operator": "has_any", "value": ["vip"]}]},
    {
        "op": "and",
        "rules": [
            {"field": "tags", "operator": "has_any", "value": ["newsletter"]},
            {"field": "email_opened", "operator": "within_last_days", "value": 30},
        ],
    },
    {"field": "country", "operator": "eq", "value": "DE"},
]


@pytest.mark.parametrize("tree", TREES)
def test_the_count_equals_counting_the_matching_contacts(shop, tree):
    expected = Contact.objects.filter(rules_compile(tree, now=NOW)).count()
    assert rules_counted(tree, now=NOW).count() == expected


def test_expected_numbers(shop):
    assert rules_counted(TREES[0], now=NOW).count() == 3
    assert rules_counted(TREES[1], now=NOW).count() == 6
    assert rules_counted(TREES[5], now=NOW).count() == 2  # people[0] twice, people[1]; not the old open
    assert rules_counted(TREES[6], now=NOW).count() == 1


@pytest.mark.parametrize("tree", [TREES[0], TREES[5], TREES[8]])
def test_one_positive_condition_is_counted_without_the_contacts_table(shop, tree):
    with CaptureQueriesContext(connection) as queries:
        rules_counted(tree, now=NOW).count()
    count_sql = queries.captured_queries[-1]["sql"]
    assert 'contacts_contact"' not in count_sql.replace("contacts_contact_tags", "")


@pytest.mark.parametrize("tree", [TREES[3], TREES[4], TREES[9], TREES[10]])
def test_other_trees_are_counted_over_contacts(shop, tree):
    with CaptureQueriesContext(connection) as queries:
        rules_counted(tree, now=NOW).count()
    assert '"contacts_contact"' in queries.captured_queries[-1]["sql"].replace('"contacts_contact_tags"', "")


def test_segment_size_preview_and_budgeted_count_use_it(shop):
    segment = Segment.objects.create(name="VIPs", rules=TREES[0])
    assert segment_evaluate(segment=segment) == 3
    assert rules_count_within(rules=TREES[1], segment_id=None, milliseconds=5_000) == 6
    count, sample = rules_preview(rules=TREES[1], sample_size=2)
    assert count == 6 and len(sample) == 2
