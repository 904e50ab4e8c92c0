"""A partial covering index for per-contact purchase questions on PostgreSQL (docs/segments-speed.md).

"Last purchase between", "bought in the last N days" and "N+ purchases" segments probe or group one
contact's purchases (orders neither cancelled nor refunded) by date. With (contact_id, placed_at)
INCLUDE (total) WHERE status NOT IN (cancelled, refunded), PostgreSQL answers them with index-only
scans (the rules' filter matches the index predicate), instead of reading order rows to check their
status. SQLite has no INCLUDE; order_contact_placed_idx serves there.
"""

from django.db import migrations

INDEX = "order_purchase_contact_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON contacts_order (contact_id, placed_at) INCLUDE (total) "
        "WHERE NOT (status IN ('cancelled', 'refunded'))"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0005_apitoken_verbose_name")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
