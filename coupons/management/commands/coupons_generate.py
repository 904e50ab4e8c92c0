from django.core.management.base import BaseCommand, CommandError

from coupons.models import CouponPool
from coupons.services import coupons_generate


class Command(BaseCommand):
    help = "Add new unique codes to a coupon pool (same service as the admin's Generate codes)."

    def add_arguments(self, parser):
        parser.add_argument("pool", help="Pool name")
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--prefix", default="")
        parser.add_argument("--length", type=int, default=10)

    def handle(self, *args, pool, count, prefix, length, **options):
        try:
            pool_obj = CouponPool.objects.get(name=pool)
        except CouponPool.DoesNotExist:
            raise CommandError(f"No coupon pool named {pool!r}.")
        try:
            created = coupons_generate(pool=pool_obj, count=count, prefix=prefix, length=length)
        except ValueError as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"{created} codes added to {pool_obj}.")
