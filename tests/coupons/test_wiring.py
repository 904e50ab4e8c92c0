import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from contacts.models import Contact
from coupons.models import Coupon
from coupons.services import coupon_assign
from tests.factories import CouponPoolFactory

pytestmark = pytest.mark.django_db


def test_contact_page_shows_the_contacts_coupons(admin_client):
    pool = CouponPoolFactory(codes=2, name="Spring back")
    contact = Contact.objects.create(email="ann@example.com")
    code = coupon_assign(pool=pool, contact=contact).coupon.code
    response = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert code in page and "Spring back" in page


def test_stock_check_is_scheduled():
    from winback.schedule import CELERY_BEAT_SCHEDULE

    entry = CELERY_BEAT_SCHEDULE["coupons-pools-stock-check"]
    assert entry["task"] == "coupons.tasks.coupon_pools_stock_check"
    from coupons import tasks

    assert tasks.coupon_pools_stock_check.name == entry["task"]


def test_counter_fold_is_scheduled():
    from coupons import tasks
    from winback.schedule import CELERY_BEAT_SCHEDULE

    entry = CELERY_BEAT_SCHEDULE["coupons-pool-counters-fold"]
    assert entry["task"] == tasks.coupon_pool_counters_fold.name


def test_large_generation_runs_in_the_background(admin_client, django_capture_on_commit_callbacks):
    pool = CouponPoolFactory()
    url = reverse("admin:coupons_couponpool_generate", args=[pool.pk])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(url, {"count": 200_000, "prefix": "", "length": 10})
    assert response.status_code == 302
    assert len(callbacks) == 1 and not Coupon.objects.exists()


def test_commands_generate_and_import(tmp_path):
    pool = CouponPoolFactory(name="Cmd")
    call_command("coupons_generate", "Cmd", count=7, length=8)
    assert Coupon.objects.filter(pool=pool).count() == 7
    good = tmp_path / "good.csv"
    good.write_text("code\nSHOP-1\nSHOP-2\n")
    call_command("coupons_import", "Cmd", str(good))
    assert Coupon.objects.filter(pool=pool).count() == 9
    bad = tmp_path / "bad.csv"
    bad.write_text("code\nSHOP-3\nno good\n")
    with pytest.raises(CommandError, match="1 rows have errors"):
        call_command("coupons_import", "Cmd", str(bad))
    assert not Coupon.objects.filter(code="SHOP-3").exists()
