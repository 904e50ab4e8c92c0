"""The live preview never blocks: past its budget it answers "about N" and the exact count follows by htmx.

No timed assertions: a zero budget stands for "too slow to count inline", and the time limit itself is
checked with queries that take seconds against a limit of milliseconds."""

import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from segments.models import Segment
from segments.selectors import QueryTooSlow, query_time_limit, rules_count_estimate
from segments.services import segment_evaluate
from tests.segments.helpers import contact

pytestmark = pytest.mark.django_db

PREVIEW = "/segments/rules/preview/"
COUNT = "/segments/rules/count/"
RULES = {"field": "country", "operator": "eq", "value": "DE"}
PG = connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def germans():
    for i in range(15):
        contact(country="DE", first_name=f"G{i}")
    contact(country="FR")


def test_count_url_name():
    assert reverse("segments:rules-count") == COUNT


def test_over_budget_preview_says_about_n_from_the_saved_size_and_asks_for_the_exact_count(
    admin_client, germans, settings, django_assert_num_queries
):
    segment = Segment.objects.create(name="Germans", rules=RULES)
    segment_evaluate(segment=segment)
    contact(country="DE")  # one more since the segment was counted: the estimate is the saved 15
    settings.SEGMENT_PREVIEW_BUDGET_MS = 0
    data = {"rules": json.dumps(RULES), "segment_id": str(segment.pk)}
    with django_assert_num_queries(3):  # session, user, the saved segment
        response = admin_client.post(PREVIEW, data, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'data-testid="match-estimate"' in body and "About <strong>15</strong>" in body
    assert "segment size" in body
    assert 'data-testid="exact-count-pending"' in body and f'hx-post="{COUNT}"' in body
    assert 'hx-trigger="load"' in body and 'hx-sync="closest .segment-editor:replace"' in body
    assert "&quot;rules&quot;" in body  # the rules travel with the count request

    with django_assert_num_queries(6 if PG else 3):  # session, user, count (+ savepoint, timeout, release)
        exact = admin_client.post(COUNT, data, headers={"HX-Request": "true"})
    assert 'data-testid="match-count">16<' in exact.content.decode()

    again = admin_client.post(PREVIEW, data, headers={"HX-Request": "true"}).content.decode()
    assert "About <strong>16</strong>" in again and "counted" in again  # the remembered exact count


def test_estimate_without_a_saved_count(germans):
    estimate = rules_count_estimate(rules=RULES)
    if PG:
        assert estimate.source == "planner" and estimate.value >= 1
    else:
        assert estimate is None


def test_preview_without_estimate_says_counting(admin_client, germans, settings):
    settings.SEGMENT_PREVIEW_BUDGET_MS = 0
    body = admin_client.post(
        PREVIEW, {"rules": json.dumps({"field": "country", "operator": "eq", "value": "FR"})}
    )
    text = body.content.decode()
    assert 'data-testid="exact-count-pending"' in text
    assert "hx-sync" not in text  # the stand-alone page has no editor to sync with
    if not PG:
        assert "Counting the matching contacts" in text


def test_count_endpoint_reports_rule_errors_and_needs_permission(admin_client):
    from django.test import Client

    bad = admin_client.post(COUNT, {"rules": json.dumps({"field": "nope", "operator": "eq"})})
    assert "have problems" in bad.content.decode()
    assert Client().post(COUNT, {"rules": "{}"}).status_code == 302  # staff only
    assert admin_client.get(COUNT).status_code == 405


def test_query_time_limit_stops_a_slow_query_and_leaves_the_connection_usable():
    slow = (
        "SELECT pg_sleep(5)"
        if PG
        else "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000000) "
        "SELECT count(*) FROM n"
    )
    with pytest.raises(QueryTooSlow), query_time_limit(20), connection.cursor() as cursor:
        cursor.execute(slow)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    with query_time_limit(60_000), connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)
