"""manage.py seed_campaigns [--codes N]: demo scores, segments, coupon pool, templates and journeys.

Idempotent and fast when everything exists (`make run` calls it on every start, after seed_demo).
Only acts on the demo shop: see journeys.demo.campaigns_demo_seed.
"""

import time

from django.core.management.base import BaseCommand

from journeys.demo import campaigns_demo_seed


class Command(BaseCommand):
    help = (
        "Add the demo win-back set-up (scores, segments, coupon pool, templates, journeys) to the demo shop."
    )

    def add_arguments(self, parser):
        parser.add_argument("--codes", type=int, default=2000, help="Codes to generate in the new pool.")

    def handle(self, *args, codes, **options):
        started = time.monotonic()
        result = campaigns_demo_seed(codes=codes)
        if result.skipped:
            self.stdout.write(result.skipped)
            return
        if not result.created_anything:
            self.stdout.write("Demo campaigns already exist; nothing to do.")
            return
        lines = []
        if result.scoring_run_id:
            lines.append(
                f"  scoring run #{result.scoring_run_id} {result.scoring_status}: "
                f"{result.scoring_seconds:.1f}s"
            )
            if result.scoring_status != "done":
                self.stderr.write(
                    f"Scoring run #{result.scoring_run_id} failed: see Segments > Scoring runs."
                )
        sizes = ", ".join(
            f"{name} ({'?' if size is None else f'{size:,}'})" for name, size in result.segment_sizes.items()
        )
        lines.append(f"  segments: {sizes}")
        if result.pool_created:
            lines.append(f"  coupon pool 'Win-back 15%': {result.codes_generated:,} codes")
        if result.templates_created:
            lines.append(f"  message templates: {', '.join(result.templates_created)}")
        for name in result.journeys_created:
            lines.append(f"  journey '{name}': /admin/journeys/journey/{result.journey_ids[name]}/change/")
        if result.entered:
            lines.append(
                f"  {result.entered:,} contacts entered the win-back journey "
                "(emails go out once the worker runs)"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Demo campaigns ready in {time.monotonic() - started:.1f}s:")
            + "\n"
            + "\n".join(lines)
        )
