"""Contact search by a word (email prefix OR last-name prefix, any case) on PostgreSQL.

The admin search asks `email LIKE 'term%' OR UPPER(last_name) LIKE UPPER('term%')`. The email side has
its pattern index (contact_email_unique); without one for the last name the OR falls back to walking
the whole table (about 300 ms at 1M contacts for a term nobody has). With this expression index both
sides are index scans combined by a BitmapOr (plans in docs/segments-speed.md). SQLite: the search runs as before.
"""

from django.db import migrations

INDEX = "contact_last_name_prefix_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON contacts_contact (UPPER(last_name::text) text_pattern_ops)"
    )
    # Statistics of the indexed expression exist only after an ANALYZE; without them the planner guesses
    # 0.5 % of rows match and walks the primary key backwards for the 50 newest (1.8 s for a rare word
    # at 1M contacts, 1 ms with the statistics).
    schema_editor.execute("ANALYZE contacts_contact")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0006_perf_order_purchase_contact_index")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
