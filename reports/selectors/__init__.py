"""Reads for the report pages, the CSV downloads and `manage.py journey_report` (one source of numbers)."""
