"""manage.py score [--as-of DATE]: a scoring run in the foreground, with a progress bar and its phases.

A date (2024-03-01) means the end of that day in the shop's time zone; a date-time (2024-03-01T12:00,
with or without a zone; without one it is the shop's time zone) is taken as is. A run as of a date before
the latest run is a look-back: it reports, and leaves today's scores and history as they are.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from segments.models import ScoringRun
from segments.services import scoring_run_execute


def as_of_parse(value: str) -> dt.datetime:
    """The instant a --as-of value names; a clear error for anything else."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return timezone.make_aware(dt.datetime.combine(day, dt.time.max))
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--as-of {value!r} is not a date like 2024-03-01 or a date-time like 2024-03-01T12:00."
        ) from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = "Score every contact now (or as of a past date), showing progress and the time of each phase."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", dest="as_of", help="Score as of this date or date-time (default: now)."
        )

    def handle(self, *args, as_of=None, **options):
        moment = as_of_parse(as_of) if as_of else timezone.now()
        if moment > timezone.now() + dt.timedelta(minutes=5):
            raise CommandError(f"--as-of {as_of} is in the future; scores can only look back.")
        run = ScoringRun.objects.create(trigger=ScoringRun.Trigger.COMMAND)
        self.stdout.write(f"Scoring run #{run.pk} as of {timezone.localtime(moment):%Y-%m-%d %H:%M %Z}")
        bar = tqdm(total=100, unit="%", file=self.stderr._out, bar_format="{l_bar}{bar}| {n_fmt}% {desc}")

        def progress(percent: int, note: str) -> None:
            bar.set_description_str(note, refresh=False)
            bar.update(max(percent - bar.n, 0))

        phases: list[str] = []
        run = scoring_run_execute(run=run, as_of=moment, progress=progress, phase_report=phases.append)
        bar.close()
        for line in phases:
            self.stdout.write(f"  {line}")
        if run.status != ScoringRun.Status.DONE:
            raise CommandError(f"Scoring run #{run.pk} failed: {run.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {run.duration_ms / 1000:.1f} s: {run.contacts_scored:,} contacts, {run.buyers:,} "
                f"buyers, {run.scores_written:,} score rows written, {run.changes_recorded:,} changes"
                + (
                    " (look-back run: today's scores and history were left as they are)"
                    if run.lookback
                    else ""
                )
            )
        )
        if run.clv_fit:
            fit = run.clv_fit["bgnbd"]
            self.stdout.write(
                f"CLV fit ({fit.get('model', 'bgnbd')}): {fit.get('grid_rows', 0):,} day-grid rows, "
                f"{fit.get('iterations', 0)} iterations, {fit.get('seconds', 0):.1f} s"
            )
        if run.clv_missing_reason:
            self.stdout.write(f"CLV not computed: {run.clv_missing_reason}")
        elif run.clv_fit and run.clv_fit.get("fallback_reason"):
            self.stdout.write(f"CLV used the NBD limit model: {run.clv_fit['fallback_reason']}")
        if run.model_check:
            self.stdout.write(
                f"Model check: {run.model_check['accuracy']:.1%} accurate. {run.model_check['verdict_text']}"
            )
        elif run.model_check_missing_reason:
            self.stdout.write(f"Model check: {run.model_check_missing_reason}")
