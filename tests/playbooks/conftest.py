import io

import pytest
from django.core.management import call_command


@pytest.fixture
def demo_shop(db):
    """A small demo shop, scored (segments on scores need it), with the demo campaigns."""
    call_command("seed_demo", contacts=400, stdout=io.StringIO())
    call_command("seed_campaigns", codes=50, stdout=io.StringIO())
