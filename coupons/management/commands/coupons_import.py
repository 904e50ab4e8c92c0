from django.core.management.base import BaseCommand, CommandError

from coupons.models import CouponPool
from coupons.services import coupons_import_csv


class Command(BaseCommand):
    help = "Import a shop's CSV of codes into a pool (same service as the admin's Import codes)."

    def add_arguments(self, parser):
        parser.add_argument("pool", help="Pool name")
        parser.add_argument("file", help="CSV file with a 'code' column")

    def handle(self, *args, pool, file, **options):
        try:
            pool_obj = CouponPool.objects.get(name=pool)
        except CouponPool.DoesNotExist:
            raise CommandError(f"No coupon pool named {pool!r}.")
        with open(file, "rb") as handle:
            report = coupons_import_csv(pool=pool_obj, file=handle)
        for duplicate in report.duplicates[:50]:
            self.stdout.write(f"row {duplicate['row']}: {duplicate['code']} skipped ({duplicate['where']})")
        if not report.ok:
            for error in report.errors:
                self.stderr.write(f"row {error['row']}: {error['message']} {error.get('value', '')}")
            raise CommandError(f"Nothing imported: {len(report.errors)} rows have errors.")
        self.stdout.write(f"{report.created} codes imported into {pool_obj}.")
