"""PostgreSQL: `contacts_event (kind, occurred_at) INCLUDE (contact_id)` for the engagement rules ("opened an
email in the last 90 days" = EXISTS an event of a kind since a moment): the time range is read by an index-only
scan instead of a sequential scan of every event (docs/segments-speed.md). It lives here because the segment
rules are what needs it; `event_kind_time_idx` (same keys, no contact_id) stays for its other readers.
SQLite: nothing (its planner uses event_contact_kind_time_idx per contact).
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS event_kind_time_contact_idx ON contacts_event (kind, occurred_at) "
    "INCLUDE (contact_id)"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)
            cursor.execute("ANALYZE contacts_event")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS event_kind_time_contact_idx")


class Migration(migrations.Migration):
    dependencies = [("segments", "0008_purchase_windows"), ("contacts", "0008_merge_20261201_0558")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
