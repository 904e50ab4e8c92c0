"""Benchmark: a contacts CSV through Winback's one import path (contacts.importing.csv_import, the function
behind `manage.py import_csv`, the admin upload and the background job) beside django-import-export's
standard row-by-row import of the same file with a plain ModelResource for Contact (and, with --bulk,
import-export's use_bulk=True).

    .venv/bin/python bench/imports.py --contacts 100000
    .venv/bin/python bench/imports.py --database-url postgres://postgres@127.0.0.1:5432/bench --bulk

The same deterministically generated CSV feeds every run, each into an empty database. The row-by-row
baseline imports only the first --baseline-rows rows (default 20,000) and its rows/s is extrapolated
(the output says so). Checks that every run produced one contact per row with exactly the file's emails.
"""

from __future__ import annotations

import csv
import io
import random
import sys

from _common import (
    Timer,
    database_empty,
    django_setup,
    figure,
    parser_make,
    rate,
    result_line,
    throwaway_database,
)

COLUMNS = ["external_id", "email", "first_name", "last_name", "country", "email_consent", "signed_up_at"]
FIRST = ["Anna", "Ben", "Chloé", "David", "Emma", "Félix", "Greta", "Hugo", "Ines", "Jonas", "Lena", "Mia"]
LAST = ["Müller", "Schmidt", "Dupont", "Rossi", "García", "Smith", "Nowak", "Jansen", "Berg", "Costa"]
COUNTRIES = ["DE", "AT", "FR", "IT", "ES", "GB", "PL", "NL", "SE", "PT"]


def csv_generate(rows: int, seed: int) -> tuple[bytes, list[str]]:
    """A Winback-format contacts file (also readable by a plain ModelResource) and its emails, in order."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    emails = []
    for i in range(rows):
        email = f"customer{i}@example.com"
        emails.append(email)
        month, day, hour, minute = (
            rng.randrange(1, 13),
            rng.randrange(1, 28),
            rng.randrange(24),
            rng.randrange(60),
        )
        writer.writerow(
            [
                f"C{i:08d}",
                email,
                rng.choice(FIRST),
                rng.choice(LAST),
                rng.choice(COUNTRIES),
                "true" if rng.random() < 0.6 else "false",
                f"2024-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:00",
            ]
        )
    return out.getvalue().encode(), emails


def main() -> int:
    parser = parser_make(__doc__)
    parser.add_argument("--contacts", type=int, default=100_000, help="rows in the file")
    parser.add_argument(
        "--baseline-rows", type=int, default=20_000, help="rows for the row-by-row baseline (extrapolated)"
    )
    parser.add_argument("--bulk", action="store_true", help="also run import-export with use_bulk=True")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    django_setup(args.database_url)

    import tablib
    from django.db import connection
    from import_export import resources

    from contacts.importing import csv_import
    from contacts.models import Contact

    class PlainContactResource(resources.ModelResource):
        """What the import-export docs show: a ModelResource, rows matched on email."""

        class Meta:
            model = Contact
            fields = tuple(COLUMNS)
            import_id_fields = ("email",)

    class BulkContactResource(PlainContactResource):
        class Meta(PlainContactResource.Meta):
            use_bulk = True
            batch_size = 1000

    def emails_check(label: str, expected: list[str]) -> bool:
        stored = list(Contact.objects.values_list("email", flat=True))
        same = len(stored) == len(expected) and set(stored) == set(expected)
        print(f"  {label}: {len(stored):,} contacts, emails equal to the file's {len(expected):,}: {same}")
        return same

    def import_export_run(resource_class, rows: int) -> tuple[float, bool]:
        subset = b"\n".join(data.split(b"\n")[: rows + 1]) + b"\n"
        dataset = tablib.Dataset().load(subset.decode(), format="csv")
        with Timer(f"{resource_class.__name__}: import_data of {rows:,} rows") as t:
            result = resource_class().import_data(dataset, dry_run=False, raise_errors=True)
        seconds = t.seconds
        print(f"    {result.totals.get('new', 0):,} new, errors: {result.has_errors()}")
        return seconds, emails_check(resource_class.__name__, emails[:rows])

    data, emails = csv_generate(args.contacts, args.seed)
    baseline_rows = min(args.baseline_rows, args.contacts)
    ok = True
    with throwaway_database():
        print(f"File: {args.contacts:,} contacts, {len(data) / 1e6:.1f} MB, columns {', '.join(COLUMNS)}")

        with Timer(f"Winback csv_import (validate all, then batched upsert) of {args.contacts:,}") as t:
            outcome = csv_import(kind="contacts", data=data)
        winback_seconds = t.seconds
        print(f"    {outcome.created:,} created, {outcome.error_count} errors, format {outcome.format}")
        ok &= outcome.ok and emails_check("Winback", emails)

        copy_seconds = None
        if connection.vendor == "postgresql":
            # The limit: the same file COPYed into a bare table (text columns, no index, no validation).
            with connection.cursor() as cursor:
                columns = ", ".join(f'"{c}" text' for c in COLUMNS)
                cursor.execute(f"CREATE TABLE bench_bare_contacts ({columns})")
                bare_copy = "COPY bench_bare_contacts FROM STDIN WITH (FORMAT csv, HEADER)"
                with (
                    Timer(f"limit: COPY of the file into a bare table, {args.contacts:,} rows") as t,
                    cursor.cursor.copy(bare_copy) as copy,
                ):
                    copy.write(data)
                copy_seconds = t.seconds
                cursor.execute("DROP TABLE bench_bare_contacts")

        database_empty()
        plain_seconds, same = import_export_run(PlainContactResource, baseline_rows)
        ok &= same

        bulk_seconds = None
        if args.bulk:
            database_empty()
            bulk_seconds, same = import_export_run(BulkContactResource, baseline_rows)
            ok &= same

    winback_rate = rate(args.contacts, winback_seconds)
    plain_rate = rate(baseline_rows, plain_seconds)
    extrapolated = (
        f" (measured on the first {baseline_rows:,} rows, extrapolated)"
        if baseline_rows < args.contacts
        else ""
    )
    print()
    print(f"  Winback csv_import:           {winback_rate:10,.0f} rows/s ({winback_seconds:.2f} s)")
    print(f"  import-export row by row:     {plain_rate:10,.0f} rows/s{extrapolated}")
    if baseline_rows < args.contacts:
        print(f"    -> {args.contacts:,} rows would take about {args.contacts / plain_rate:,.0f} s")
    print(f"  ratio Winback / row by row:   {winback_rate / plain_rate:10.1f}x")
    sample = f"baseline on {baseline_rows:,} rows, extrapolated" if baseline_rows < args.contacts else ""
    if copy_seconds:
        figure(
            f"CSV import, {args.contacts:,} contacts vs COPY into a bare table (the limit)",
            winback_rate,
            rate(args.contacts, copy_seconds),
            "rows/s",
            "ratio below 1: the share of the limit reached",
        )
    figure(
        f"CSV import, {args.contacts:,} contacts vs import-export default",
        winback_rate,
        plain_rate,
        "rows/s",
        sample,
    )
    if bulk_seconds is not None:
        bulk_rate = rate(baseline_rows, bulk_seconds)
        print(f"  import-export use_bulk=True:  {bulk_rate:10,.0f} rows/s{extrapolated}")
        print(f"  ratio Winback / use_bulk:     {winback_rate / bulk_rate:10.1f}x")
        figure(
            f"CSV import, {args.contacts:,} contacts vs import-export use_bulk",
            winback_rate,
            bulk_rate,
            "rows/s",
            sample,
        )
    return result_line(ok, "results agree", "RESULTS DIFFER")


if __name__ == "__main__":
    sys.exit(main())
