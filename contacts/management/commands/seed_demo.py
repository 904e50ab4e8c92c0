"""manage.py seed_demo [--contacts N] [--seed S] [--reset]: a believable demo shop.

Idempotent: with demo data present it does nothing (`make run` calls it on every start).
"""

import time

from django.core.management.base import BaseCommand
from tqdm import tqdm

from contacts.services.demo import demo_delete, demo_exists, demo_seed


class Command(BaseCommand):
    help = "Fill the database with a demo shop (contacts, products, two years of orders, events)."

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--reset", action="store_true", help="Delete existing demo data first.")

    def handle(self, *args, contacts, seed, reset, **options):
        if reset and demo_exists():
            demo_delete()
            self.stdout.write("Deleted the existing demo data.")
        started = time.monotonic()
        bar = tqdm(total=contacts, unit="contacts", file=self.stderr._out, disable=contacts < 50_000)

        def progress(_phase: str, done: int, _total: int) -> None:
            bar.update(done - bar.n)

        result = demo_seed(contacts=contacts, seed=seed, progress=progress)
        bar.close()
        if not result.created:
            self.stdout.write(result.message)
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo shop ready in {time.monotonic() - started:.1f}s: {result.contacts} contacts, "
                f"{result.products} products, {result.orders} orders ({result.order_lines} lines), "
                f"{result.events} events."
            )
        )
