"""Score writes: a first run's direct COPY and the staged UPDATE give the same rows; COPY text fields."""

import numpy as np
import pytest

from contacts.models import Contact
from segments.models import ContactScore, ScoringRun
from segments.services import scoring_run_execute
from segments.services.bulk import text_column
from tests.segments.helpers import AS_OF, contact
from tests.segments.test_scoring import _shop

pytestmark = pytest.mark.django_db

VALUES = [
    "recency_days", "frequency", "monetary_total", "monetary_avg", "first_order_at", "last_order_at",
    "r_score", "f_score", "m_score", "rfm_segment", "lifecycle_stage", "p_alive", "expected_purchases",
    "expected_order_value", "predicted_clv", "clv_cluster",
]  # fmt: skip


def _rows() -> dict:
    return {row["contact_id"]: row for row in ContactScore.objects.values("contact_id", *VALUES)}


def test_first_run_copy_and_staged_rewrite_store_the_same_values():
    _shop()
    contact()  # a contact who never bought: NULL scores
    scoring_run_execute(run=ScoringRun.objects.create(), as_of=AS_OF)  # empty table: direct COPY
    first = _rows()
    assert len(first) == Contact.objects.count()
    keep = min(first)
    ContactScore.objects.exclude(contact_id=keep).delete()
    ContactScore.objects.filter(contact_id=keep).update(rfm_segment="changed")
    scoring_run_execute(run=ScoringRun.objects.create(), as_of=AS_OF)  # staged: UPDATE + INSERT
    assert _rows() == first


def test_text_fields_escape_and_mark_nulls():
    texts = np.array(["a\tb", "c\\d", "e\nf", ""], dtype=object)
    assert text_column(texts) == ["a\\tb", "c\\\\d", "e\\nf", ""]
    assert text_column(np.array([0.1, np.nan, 12.35])) == ["0.1", "\\N", "12.35"]
    assert text_column(np.array([1, 2]), missing=np.array([False, True])) == ["1", "\\N"]
