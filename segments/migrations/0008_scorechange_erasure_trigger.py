"""Score history goes with the person at database level too, without a foreign key.

A real foreign key (ON DELETE CASCADE) from segments_scorechange to contacts_contact would check every history
row a run appends: measured at 1M contacts, the INSERT of 3M history rows took 74-84 s with the key against
36-42 s without it (same load, side by side), i.e. a first run's history write about twice as slow. So the
key stays off (db_constraint=False, Django's CASCADE covers the ORM, and contacts_delete) and this
statement-level trigger deletes the history of deleted contacts whatever the path (raw SQL, another app's
DELETE): one set-based DELETE per statement, nothing per history row written. SQLite: nothing (Django's
CASCADE there).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION segments_score_history_forget() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM segments_scorechange c WHERE c.contact_id IN (SELECT id FROM old_contacts);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER segments_score_history_forget AFTER DELETE ON contacts_contact
    REFERENCING OLD TABLE AS old_contacts FOR EACH STATEMENT EXECUTE FUNCTION segments_score_history_forget();
"""

DROP = """
DROP TRIGGER IF EXISTS segments_score_history_forget ON contacts_contact;
DROP FUNCTION IF EXISTS segments_score_history_forget();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)
            # History of contacts already gone (deleted outside the ORM before this trigger existed).
            cursor.execute(
                "DELETE FROM segments_scorechange c"
                " WHERE NOT EXISTS (SELECT 1 FROM contacts_contact p WHERE p.id = c.contact_id)"
            )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("segments", "0007_merge_20261201_0652")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
