"""The rule editor's htmx endpoints, the scoring progress partial and the admin screens."""

import csv
import io
import json

import pytest
from django.db import connection
from django.urls import reverse

from segments.models import ContactScore, ScoreChange, ScoringRun, Segment, SegmentSize
from segments.services import csv_safe, scoring_run_execute, segment_evaluate
from tests.segments.helpers import AS_OF, contact, orders

pytestmark = pytest.mark.django_db

PREVIEW = "/segments/rules/preview/"
RULES = {"field": "country", "operator": "eq", "value": "DE"}


@pytest.fixture
def shop():
    for i in range(30):
        contact(country="DE" if i % 2 else "FR", first_name=f"P{i}")


def test_preview_url_name():
    assert reverse("segments:rules-preview") == PREVIEW


def test_htmx_preview_returns_the_partial_with_count_and_sample(
    admin_client, shop, django_assert_num_queries
):
    # session + user, then sample and count (on PostgreSQL each in a savepoint with a statement_timeout)
    with django_assert_num_queries(10 if connection.vendor == "postgresql" else 4):
        response = admin_client.post(PREVIEW, {"rules": json.dumps(RULES)}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and 'id="rules-preview"' in body
    assert 'data-testid="match-count">15<' in body
    assert body.count("<tr>") == 11  # header + 10 sampled contacts
    assert "HX-Request" in response["Vary"]


def test_small_result_needs_no_count_query(admin_client, django_assert_num_queries):
    contact(country="DE")
    with django_assert_num_queries(6 if connection.vendor == "postgresql" else 3):
        response = admin_client.post(PREVIEW, {"rules": json.dumps(RULES)}, headers={"HX-Request": "true"})
    assert 'data-testid="match-count">1<' in response.content.decode()


def test_preview_without_htmx_is_a_full_page(admin_client, shop):
    response = admin_client.post(PREVIEW, {"rules": json.dumps(RULES)})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body and "Segment preview" in body
    assert 'data-testid="match-count">15<' in body
    assert "HX-Request" in response["Vary"]


def test_preview_shows_errors_inline(admin_client, django_assert_num_queries):
    with django_assert_num_queries(2):
        response = admin_client.post(
            PREVIEW,
            {
                "rules": json.dumps(
                    {"op": "and", "rules": [{"field": "colour", "operator": "eq", "value": 1}]}
                )
            },
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200
    body = response.content.decode()
    assert "rules[0].field" in body and "unknown field" in body and "errorlist" in body
    bad_json = admin_client.post(PREVIEW, {"rules": '{"op": "and",'}, headers={"HX-Request": "true"})
    assert "Not valid JSON" in bad_json.content.decode()


def test_preview_is_staff_only(client):
    response = client.post(PREVIEW, {"rules": "{}"}, headers={"HX-Request": "true"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_preview_needs_permission_to_see_contacts(client, django_user_model):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.post(PREVIEW, {"rules": "{}"}, headers={"HX-Request": "true"}).status_code == 403
    staff.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_segment", "view_contact"],
            content_type__app_label__in=["segments", "contacts"],
        )
    )
    assert client.post(PREVIEW, {"rules": "{}"}, headers={"HX-Request": "true"}).status_code == 200


def test_run_progress_partial_polls_while_running(admin_client, django_assert_num_queries):
    run = ScoringRun.objects.create(status="running", progress=40, progress_note="Saving")
    url = reverse("segments:run-progress", args=[run.pk])
    with django_assert_num_queries(3):
        response = admin_client.get(url, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and 'hx-trigger="every 2s"' in body and 'value="40"' in body
    assert "HX-Request" in response["Vary"]
    full = admin_client.get(url)
    assert "<html" in full.content.decode()


def test_finished_run_says_why_clv_is_missing(admin_client):
    orders(contact(), (3, 10))
    run = scoring_run_execute(run=ScoringRun.objects.create(), as_of=AS_OF)
    body = admin_client.get(reverse("segments:run-progress", args=[run.pk]), headers={"HX-Request": "true"})
    text = body.content.decode()
    assert "every 2s" not in text
    assert "CLV was not computed: Only 1 customers have purchased" in text
    page = admin_client.get(reverse("admin:segments_scoringrun_change", args=[run.pk]))
    assert page.status_code == 200 and "CLV was not computed" in page.content.decode()
    listing = admin_client.get(reverse("admin:segments_scoringrun_changelist"))
    assert "missing: Only 1 customers" in listing.content.decode()


def test_run_scoring_now_queues_a_run_after_commit(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(reverse("admin:segments_scoringrun_run_now"))
    assert response.status_code == 302
    run = ScoringRun.objects.get()
    assert run.status == "queued" and run.trigger == "admin"
    assert len(callbacks) == 1
    assert admin_client.get(reverse("admin:segments_scoringrun_run_now")).status_code == 405


def test_scoring_run_changelist_query_count(admin_client, django_assert_num_queries):
    for status in ("done", "running", "failed", "queued"):
        ScoringRun.objects.create(status=status, clv_missing_reason="x" if status == "done" else "")
    url = reverse("admin:segments_scoringrun_changelist")
    admin_client.get(url)
    with django_assert_num_queries(5):
        response = admin_client.get(url)
    assert response.status_code == 200 and "Run scoring now" in response.content.decode()
    assert 'data-testid="auto-refresh"' in response.content.decode()  # a run is in progress


def test_contact_score_changelist_query_count(admin_client, django_assert_num_queries):
    for i in range(30):
        ContactScore.objects.create(contact=contact(), rfm_segment="Champions", predicted_clv=i)
    url = reverse("admin:segments_contactscore_changelist")
    admin_client.get(url)
    # session, user, capped count, rows: filters have fixed choices (no SELECT DISTINCT)
    with django_assert_num_queries(4):
        response = admin_client.get(url + "?rfm_segment=Champions")
    assert response.status_code == 200


def test_score_change_changelist_query_count(admin_client, django_assert_num_queries):
    run = ScoringRun.objects.create()
    for _ in range(20):
        ScoreChange.objects.create(contact=contact(), run=run, changed_at=AS_OF, field="cluster", new="Low")
    url = reverse("admin:segments_scorechange_changelist")
    admin_client.get(url)
    with django_assert_num_queries(4):
        assert admin_client.get(url).status_code == 200


def test_segment_changelist_shows_size_timing_and_query_count(admin_client, django_assert_num_queries):
    for i in range(15):
        Segment.objects.create(name=f"S{i}", rules=RULES, size=i, last_duration_ms=12)
    url = reverse("admin:segments_segment_changelist")
    admin_client.get(url)
    with django_assert_num_queries(5):
        response = admin_client.get(url)
    body = response.content.decode()
    assert "12 ms" in body and "Size" in body


def test_segment_page_has_editor_and_size_history(admin_client, shop):
    segment = Segment.objects.create(name="Germans", rules=RULES)
    segment_evaluate(segment=segment)
    segment_evaluate(segment=segment)
    body = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()
    assert "hx-post" in body and reverse("segments:rules-preview") in body
    assert "htmx" in body  # the script tag
    assert 'data-testid="size-history"' in body and body.count('title="') >= 2
    assert "Export contacts (CSV)" in body


def test_saving_invalid_rules_shows_the_errors(admin_client):
    response = admin_client.post(
        reverse("admin:segments_segment_add"),
        {
            "name": "Broken",
            "description": "",
            "rules": json.dumps({"field": "status", "operator": "gt", "value": 1}),
        },
    )
    assert response.status_code == 200
    assert "operator &#x27;gt&#x27; is not valid for status" in response.content.decode()
    assert not Segment.objects.exists()
    ok = admin_client.post(
        reverse("admin:segments_segment_add"),
        {"name": "Germans", "description": "", "rules": json.dumps(RULES)},
    )
    assert ok.status_code == 302 and Segment.objects.get().rules == RULES


def test_evaluate_now_action_records_size(admin_client, shop):
    segment = Segment.objects.create(name="Germans", rules=RULES)
    response = admin_client.post(
        reverse("admin:segments_segment_changelist"),
        {"action": "evaluate_now", "_selected_action": [segment.pk]},
        follow=True,
    )
    assert "Germans: 15 contacts" in response.content.decode()
    segment.refresh_from_db()
    assert segment.size == 15 and segment.last_evaluated_at and segment.last_duration_ms is not None
    assert SegmentSize.objects.get(segment=segment).size == 15


def test_export_is_csv_and_formula_safe(admin_client):
    contact(country="DE", first_name='=HYPERLINK("http://evil")', last_name="+1", email="a@example.com")
    contact(country="FR")
    segment = Segment.objects.create(name="Germans!", rules=RULES)
    response = admin_client.get(reverse("admin:segments_segment_export", args=[segment.pk]))
    assert response["Content-Type"] == "text/csv"
    assert 'filename="germans.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["id", "external_id", "email"]
    assert len(rows) == 2
    assert rows[1][3] == '\'=HYPERLINK("http://evil")' and rows[1][4] == "'+1"


def test_csv_safe_cells():
    assert csv_safe("=1+1") == "'=1+1"
    assert csv_safe("@SUM") == "'@SUM"
    assert csv_safe("-2") == "'-2"
    assert csv_safe("plain") == "plain"
    assert csv_safe(None) == ""
    assert csv_safe(5) == "5"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")
def test_contact_score_changelist_order_is_read_from_its_index():
    """Predicted CLV DESC NULLS LAST, then -pk: the index has exactly that order (no sort of 1M rows)."""
    from django.db import transaction

    for i in range(5):
        ContactScore.objects.create(contact=contact(), predicted_clv=i if i else None)
    from django.contrib.admin.sites import site
    from django.db.models import F

    model_admin = site._registry[ContactScore]
    assert model_admin.ordering == (F("predicted_clv").desc(nulls_last=True),)
    query = ContactScore.objects.order_by(F("predicted_clv").desc(nulls_last=True), "-pk")[:100]
    sql, params = query.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "score_clv_desc_idx" in plan and "Sort" not in plan, plan
