from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

from contacts.models import Contact, Event, Order, OrderLine, Product
from contacts.services.roles import ADMINISTRATOR, ANALYST, MARKETER
from tests.contacts.conftest import DATA, SAMPLES

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_csv_success_prints_a_summary():
    out, _ = run("import_csv", "contacts", str(SAMPLES / "shopify_customers.csv"))
    assert "3 new and 0 updated contacts were saved" in out
    assert "shopify format" in out
    assert Contact.objects.count() == 3


def test_import_csv_dry_run_saves_nothing():
    out, _ = run("import_csv", "products", str(SAMPLES / "winback_products.csv"), "--dry-run")
    assert "would be saved" in out
    assert Product.objects.count() == 0


def test_import_csv_failure_exits_non_zero_and_prints_row_errors():
    with pytest.raises(CommandError, match="4 error\\(s\\), nothing was imported") as raised:
        call_command(
            "import_csv",
            "contacts",
            str(DATA / "contacts_bad_rows.csv"),
            stdout=StringIO(),
            stderr=(err := StringIO()),
        )
    assert raised.value.returncode == 1
    assert "row 3, column email: 'not-an-email' is not a valid email address." in err.getvalue()
    assert Contact.objects.count() == 0


def test_import_csv_command_exit_code_in_a_real_process(tmp_path):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "import_csv", "orders", str(DATA / "orders_bad_amount.csv")],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        check=False,
        cwd=SAMPLES.parent,
    )
    assert result.returncode == 1
    assert "row 3, column total" in result.stderr


def test_seed_demo_creates_a_shop_and_second_run_does_nothing():
    out, _ = run("seed_demo", "--contacts", "300", "--seed", "7")
    assert "Demo shop ready" in out
    counts = (
        Contact.objects.count(),
        Order.objects.count(),
        OrderLine.objects.count(),
        Event.objects.count(),
    )
    assert counts[0] == 300
    assert counts[1] > 300 and counts[2] >= counts[1] and counts[3] > 0
    assert Product.objects.filter(sku__startswith="DEMO-").count() > 50
    out, _ = run("seed_demo", "--contacts", "300")
    assert "already exists" in out
    assert (
        Contact.objects.count(),
        Order.objects.count(),
        OrderLine.objects.count(),
        Event.objects.count(),
    ) == counts


def test_seed_demo_is_reproducible_and_reset_replaces_it():
    run("seed_demo", "--contacts", "200", "--seed", "3")
    first = list(Contact.objects.order_by("external_id").values_list("external_id", "email", "country"))
    run("seed_demo", "--contacts", "200", "--seed", "3", "--reset")
    assert (
        list(Contact.objects.order_by("external_id").values_list("external_id", "email", "country")) == first
    )
    assert Contact.objects.count() == 200


def test_seed_demo_makes_a_believable_shop():
    from datetime import timedelta

    from django.db.models import Count, Max
    from django.utils import timezone

    run("seed_demo", "--contacts", "1000", "--seed", "1")
    now = timezone.now()
    stats = Contact.objects.annotate(n=Count("orders"), last=Max("orders__placed_at"))
    buyers = [s for s in stats if s.n]
    one_time = sum(1 for s in buyers if s.n == 1)
    active = sum(1 for s in buyers if s.last > now - timedelta(days=90))
    defecting = sum(1 for s in buyers if now - timedelta(days=365) <= s.last <= now - timedelta(days=90))
    lost = sum(1 for s in buyers if s.last < now - timedelta(days=365))
    assert 0.25 < one_time / len(buyers) < 0.6
    assert active < defecting and lost > 0.15 * len(buyers)
    months = [d.month for d in Order.objects.values_list("placed_at", flat=True)]
    assert months.count(12) > 1.5 * months.count(6)
    assert Order.objects.filter(placed_at__lt=now - timedelta(days=600)).exists()
    contact = Contact.objects.exclude(email_consent=True).first()
    assert contact is not None
    attributes = Contact.objects.first().attributes
    assert {"referral_successful_count", "referral_share_link", "referral_activity"} <= set(attributes)
    assert Event.objects.filter(kind="site_visit").exists()
    openers = set(Event.objects.filter(kind="email_open").values_list("contact_id", flat=True))
    subscribers = set(Contact.objects.filter(email_consent=True).values_list("id", flat=True))
    assert openers and openers <= subscribers
    assert 0.25 < len(openers) / len(subscribers) < 0.55
    assert Event.objects.filter(kind="email_click").exists()


def test_bootstrap_creates_roles_and_admin_once(monkeypatch):
    monkeypatch.setenv("WINBACK_ADMIN_PASSWORD", "s3cret-pass")
    out, _ = run("bootstrap")
    assert "Admin login created: admin / s3cret-pass" in out
    assert set(Group.objects.values_list("name", flat=True)) == {MARKETER, ANALYST, ADMINISTRATOR}
    analyst = Group.objects.get(name=ANALYST)
    assert analyst.permissions.filter(codename="view_contact").exists()
    assert not analyst.permissions.filter(codename="change_contact").exists()
    marketer = Group.objects.get(name=MARKETER)
    assert marketer.permissions.filter(codename="add_contact").exists()
    assert not marketer.permissions.filter(codename="add_apitoken").exists()
    out, _ = run("bootstrap")
    assert "already exists" in out
    assert User.objects.count() == 1
