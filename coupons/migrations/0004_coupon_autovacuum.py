"""Keep code claims fast on PostgreSQL as a pool is used up.

Claiming reads the partial index of free codes. Each assignment leaves a dead entry in that index
until VACUUM, and autovacuum's default (20% of the table changed) lets a 1M-code pool collect
200,000 of them first: claims then slowed to ~20 ms each (bench/coupons.py). Vacuum and analyze
the coupons table after 1% of it changed instead.
"""

from django.db import migrations

SETTINGS = (
    "autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01, "
    "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 1000"
)


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE coupons_coupon SET ({SETTINGS})")


def untune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE coupons_coupon RESET (autovacuum_vacuum_scale_factor, "
            "autovacuum_analyze_scale_factor, autovacuum_vacuum_threshold, autovacuum_analyze_threshold)"
        )


class Migration(migrations.Migration):
    dependencies = [("coupons", "0003_pool_counters")]

    operations = [migrations.RunPython(tune, untune, elidable=False)]
