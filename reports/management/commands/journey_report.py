"""`manage.py journey_report "<journey name>" [--format json|csv] [--since DATE]`: the report's numbers."""

from __future__ import annotations

import csv
import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from journeys.models import Journey
from reports.selectors.export import journey_report_json, journey_report_tables, rows_as_csv_lines
from reports.selectors.journey import ReportFilter, journey_results


class Command(BaseCommand):
    help = "Print a journey's results (entered, conversions, revenue, holdout lift, variants, steps)."

    def add_arguments(self, parser):
        parser.add_argument("journey", help="The journey's name.")
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--since", help="Only contacts who entered on or after this date (YYYY-MM-DD).")

    def handle(self, *args, **options):
        try:
            journey = Journey.objects.select_related("current_version").get(name=options["journey"])
        except Journey.DoesNotExist:
            raise CommandError(f"No journey named {options['journey']!r}.")
        since = None
        if options["since"]:
            try:
                since = dt.date.fromisoformat(options["since"])
            except ValueError:
                raise CommandError(f"--since must be a date like 2025-01-31, not {options['since']!r}.")
        report = journey_results(journey=journey, filters=ReportFilter(entered_from=since))
        if options["format"] == "json":
            self.stdout.write(json.dumps(journey_report_json(report), indent=2))
            return
        writer = csv.writer(self.stdout)
        for name, rows in journey_report_tables(report).items():
            writer.writerow([f"# {name}"])
            writer.writerows(rows_as_csv_lines(rows))
            writer.writerow([])
