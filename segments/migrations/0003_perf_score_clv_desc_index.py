"""The contact scores changelist's order on PostgreSQL: predicted CLV DESC NULLS LAST, then -pk.

score_clv_idx is ascending with NULLs last, so a backward scan gives NULLs first: PostgreSQL sorted all
1M score rows on every page view. This index has exactly the admin's order, so a page is read from the
index. SQLite (no NULLS LAST in indexes on older versions) keeps sorting; its tables are small.
"""

from django.db import migrations

INDEX = "score_clv_desc_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON segments_contactscore "
        "(predicted_clv DESC NULLS LAST, contact_id DESC)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("segments", "0002_scoringrun_phase_seconds")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
