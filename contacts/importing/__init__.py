"""CSV/JSON import: one path from bytes or objects to batched upserts (see pipeline.py)."""

from contacts.importing.pipeline import ImportResult, csv_import, records_import

__all__ = ["ImportResult", "csv_import", "records_import"]
