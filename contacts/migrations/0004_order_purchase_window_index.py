"""A covering index for "purchases in the last N days" segments on PostgreSQL.

Segment rules on purchase counts/amounts in a date window aggregate every order in the window
(GROUP BY contact). With (placed_at) INCLUDE (contact_id, total, status) PostgreSQL answers them
with an index-only scan instead of reading the 10M-row order table. SQLite has no INCLUDE; its
plain order_placed_idx serves there.
"""

from django.db import migrations

INDEX = "order_placed_cover_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON contacts_order (placed_at) "
        "INCLUDE (contact_id, total, status)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0003_email_prefix_search")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
