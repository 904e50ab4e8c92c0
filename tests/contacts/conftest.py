from pathlib import Path

import pytest

from contacts.importing import csv_import

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DATA = Path(__file__).resolve().parent / "data"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture
def imported_samples(db):
    """The Winback sample catalogue, contacts and orders, imported."""
    for kind, name in (
        ("products", "winback_products.csv"),
        ("contacts", "winback_contacts.csv"),
        ("orders", "winback_orders.csv"),
    ):
        result = csv_import(kind=kind, data=sample(name))
        assert result.ok, result.errors
