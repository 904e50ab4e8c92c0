import pytest
from django.template.loader import render_to_string

from segments.models import ContactScore, ScoreChange, ScoringRun, Segment
from segments.selectors import contact_segments, contact_story_context
from tests.segments.helpers import AS_OF, contact

pytestmark = pytest.mark.django_db


def test_contact_segments_in_one_query(django_assert_num_queries):
    person = contact(country="DE", attributes={"vip": "yes"})
    de = Segment.objects.create(name="Germany", rules={"field": "country", "operator": "eq", "value": "DE"})
    Segment.objects.create(name="France", rules={"field": "country", "operator": "eq", "value": "FR"})
    everyone = Segment.objects.create(name="Everyone", rules={})
    nobody = Segment.objects.create(name="Nobody", rules={"op": "or", "rules": []})
    Segment.objects.create(name="Broken", rules={"field": "nope", "operator": "eq"})
    with django_assert_num_queries(2):  # the segments, then one row with a boolean per segment
        found = contact_segments(contact_id=person.pk)
    assert found == [everyone, de]
    assert nobody not in found


def test_story_section_is_registered_and_renders():
    from contacts.story import story_sections

    assert "segments/_contact_story.html" in [s.template for s in story_sections()]
    person = contact()
    run = ScoringRun.objects.create(status="done", clv_missing_reason="Only 3 customers have purchased.")
    ContactScore.objects.create(
        contact=person, run=run, frequency=2, r_score=5, f_score=4, m_score=3, rfm_segment="Champions",
        lifecycle_stage="active", last_order_at=AS_OF, recency_days=3,
    )  # fmt: skip
    ScoreChange.objects.create(
        contact=person, run=run, changed_at=AS_OF, field="segment", old="", new="Champions"
    )
    Segment.objects.create(name="All", rules={})
    html = render_to_string("segments/_contact_story.html", contact_story_context(person))
    assert "Champions (5-4-3)" in html
    assert "Only 3 customers have purchased." in html
    assert "All</a>" in html
    assert "— → Champions" in html
