"""PostgreSQL triggers that keep segments_contactpurchasestats exact on every write to contacts_order.

Statement-level triggers with transition tables: one set-based refresh per statement (an INSERT of 2M rows
by COPY runs one GROUP BY, not 2M row triggers), and no write path can skip them (ORM save, bulk_create,
raw SQL, COPY, cascaded deletes). Concurrency: the refresh first locks the contacts it recomputes
(advisory locks, held to commit; a table lock for batches of more than 1,000 contacts, so bulk loads do
not fill the lock table), so under READ COMMITTED its next statement's snapshot sees every committed
change to those contacts' orders. SQLite: nothing; the rules read the orders there.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION segments_purchase_stats_refresh() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT contact_id) INTO ids FROM new_orders;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT contact_id) INTO ids FROM old_orders;
    ELSE
        SELECT array_agg(DISTINCT c) INTO ids FROM (
            SELECT n.contact_id AS c FROM new_orders n UNION SELECT o.contact_id FROM old_orders o
        ) changed;
    END IF;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    IF cardinality(ids) > 1000 THEN
        LOCK TABLE segments_contactpurchasestats IN SHARE ROW EXCLUSIVE MODE;
    ELSE
        PERFORM pg_advisory_xact_lock(74110, (c %% 2147483647)::int) FROM unnest(ids) AS c ORDER BY c;
    END IF;
    DELETE FROM segments_contactpurchasestats s
     WHERE s.contact_id IN (SELECT unnest(ids))
       AND NOT EXISTS (
           SELECT 1 FROM contacts_order o
            WHERE o.contact_id = s.contact_id AND o.status NOT IN ('cancelled', 'refunded'));
    INSERT INTO segments_contactpurchasestats (contact_id, last_purchase_at)
    SELECT o.contact_id, max(o.placed_at) FROM contacts_order o
     WHERE o.contact_id IN (SELECT unnest(ids)) AND o.status NOT IN ('cancelled', 'refunded')
     GROUP BY o.contact_id
    ON CONFLICT (contact_id) DO UPDATE SET last_purchase_at = EXCLUDED.last_purchase_at
     WHERE segments_contactpurchasestats.last_purchase_at IS DISTINCT FROM EXCLUDED.last_purchase_at;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION segments_purchase_stats_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM segments_contactpurchasestats;
    RETURN NULL;
END
$fn$;
"""

TRIGGERS = """
CREATE TRIGGER segments_purchase_stats_ins AFTER INSERT ON contacts_order
    REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT EXECUTE FUNCTION segments_purchase_stats_refresh();
CREATE TRIGGER segments_purchase_stats_upd AFTER UPDATE ON contacts_order
    REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders
    FOR EACH STATEMENT EXECUTE FUNCTION segments_purchase_stats_refresh();
CREATE TRIGGER segments_purchase_stats_del AFTER DELETE ON contacts_order
    REFERENCING OLD TABLE AS old_orders FOR EACH STATEMENT EXECUTE FUNCTION segments_purchase_stats_refresh();
CREATE TRIGGER segments_purchase_stats_trunc AFTER TRUNCATE ON contacts_order
    FOR EACH STATEMENT EXECUTE FUNCTION segments_purchase_stats_truncate();
"""

BACKFILL = """
INSERT INTO segments_contactpurchasestats (contact_id, last_purchase_at)
SELECT contact_id, max(placed_at) FROM contacts_order
 WHERE status NOT IN ('cancelled', 'refunded') GROUP BY contact_id
ON CONFLICT (contact_id) DO UPDATE SET last_purchase_at = EXCLUDED.last_purchase_at
"""

DROP = """
DROP TRIGGER IF EXISTS segments_purchase_stats_ins ON contacts_order;
DROP TRIGGER IF EXISTS segments_purchase_stats_upd ON contacts_order;
DROP TRIGGER IF EXISTS segments_purchase_stats_del ON contacts_order;
DROP TRIGGER IF EXISTS segments_purchase_stats_trunc ON contacts_order;
DROP FUNCTION IF EXISTS segments_purchase_stats_refresh();
DROP FUNCTION IF EXISTS segments_purchase_stats_truncate();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("LOCK TABLE contacts_order IN SHARE MODE")  # no order writes between backfill and triggers
        cursor.execute(FUNCTION.replace("%%", "%"))
        cursor.execute(TRIGGERS)
        cursor.execute(BACKFILL)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("segments", "0005_contact_purchase_stats"), ("contacts", "0008_merge_20261201_0558")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
