"""Contact search by a word uses indexes on both sides of its OR (email prefix, last-name prefix)."""

import pytest
from django.contrib.admin.sites import site
from django.db import connection, transaction
from django.test import RequestFactory

from contacts.models import Contact

pytestmark = pytest.mark.django_db


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny test tables: ask what CAN be used
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")
def test_search_by_word_is_two_index_scans_not_a_table_walk():
    Contact.objects.create(email="anna.schmidt@example.com", last_name="Schmidt")
    Contact.objects.create(email="ben@example.com", last_name="Annabel")
    model_admin = site._registry[Contact]
    request = RequestFactory().get("/")
    found, _ = model_admin.get_search_results(request, Contact.objects.all(), "Anna")
    assert set(found.values_list("last_name", flat=True)) == {"Schmidt", "Annabel"}
    plan = _plan(found.order_by("-id")[:50])
    assert "contact_email_unique" in plan and "contact_last_name_prefix_idx" in plan, plan
    assert "Index Scan Backward using contacts_contact_pkey" not in plan, plan
