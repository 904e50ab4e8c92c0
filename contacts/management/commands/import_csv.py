"""manage.py import_csv {contacts,products,orders} FILE [--format auto|winback|shopify] [--dry-run]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from contacts.importing import csv_import
from contacts.importing.formats import formats


class Command(BaseCommand):
    help = "Import a CSV file of contacts, products or orders (all or nothing; see README, section csv)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["contacts", "products", "orders"])
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", default="auto", choices=["auto", *formats()])
        parser.add_argument("--dry-run", action="store_true", help="Check and count, then roll back.")

    def handle(self, *args, kind, file, format, dry_run, **options):
        if not file.is_file():
            raise CommandError(f"{file} is not a file.")
        bars: dict[str, tqdm] = {}

        def progress(phase: str, done: int, total: int) -> None:
            bar = bars.get(phase)
            if bar is None:
                bar = bars[phase] = tqdm(total=total, desc=phase, unit="rows", file=self.stderr._out)
            bar.total = total
            bar.update(done - bar.n)

        result = csv_import(
            kind=kind, data=file.read_bytes(), format_name=format, dry_run=dry_run, progress=progress
        )
        for bar in bars.values():
            bar.close()
        summary = (
            f"{file.name}: {result.total_rows} rows ({result.format or 'unknown'} format, {result.encoding}, "
            f"delimiter {result.delimiter!r})"
        )
        if result.ignored_columns:
            self.stderr.write(f"Not imported (unknown columns): {', '.join(result.ignored_columns)}")
        if not result.ok:
            for error in result.errors:
                self.stderr.write(f"row {error['row']}, column {error['column'] or '-'}: {error['message']}")
            if result.error_count > len(result.errors):
                self.stderr.write(f"… and {result.error_count - len(result.errors)} more errors.")
            raise CommandError(f"{summary}: {result.error_count} error(s), nothing was imported.")
        for row in result.skipped:
            self.stderr.write(f"row {row['row']}, column {row['column'] or '-'}: skipped, {row['message']}")
        verb = "would be" if dry_run else "were"
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary}: {result.created} new and {result.updated} updated {kind} {verb} saved"
                + (" (dry run, nothing saved)." if dry_run else ".")
            )
        )
