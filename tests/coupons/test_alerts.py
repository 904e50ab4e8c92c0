import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core import mail

from coupons.models import PoolAlert
from coupons.services import coupons_assign_bulk, coupons_generate, pools_stock_check
from tests.coupons.conftest import make_contacts, make_pool

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer():
    group = Group.objects.create(name="Pool keepers")
    group.permissions.add(Permission.objects.get(codename="change_couponpool"))
    user = User.objects.create_user("mara", "mara@example.com", "x", is_staff=True)
    user.groups.add(group)
    User.objects.create_user("viewer", "viewer@example.com", "x", is_staff=True)  # no permission
    return user


def test_low_stock_alert_is_sent_once_per_crossing(marketer, django_capture_on_commit_callbacks):
    pool = make_pool(codes=10, low_stock_threshold=5)
    ids = make_contacts(12)
    with django_capture_on_commit_callbacks(execute=True):
        coupons_assign_bulk(pool=pool, contact_ids=ids[:4])  # 6 left: above the threshold
        assert not PoolAlert.objects.exists()
        coupons_assign_bulk(pool=pool, contact_ids=ids[4:6])  # 4 left: crossing
        coupons_assign_bulk(pool=pool, contact_ids=ids[6:7])  # 3 left: still low, no new alert
        pools_stock_check()
    assert list(PoolAlert.objects.values_list("kind", "available")) == [("low_stock", 4)]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["mara@example.com"]
    assert "running low" in mail.outbox[0].subject

    with django_capture_on_commit_callbacks(execute=True):
        coupons_assign_bulk(pool=pool, contact_ids=ids[7:12])  # runs out
        coupons_assign_bulk(pool=pool, contact_ids=ids[7:12])
    assert list(PoolAlert.objects.order_by("pk").values_list("kind", flat=True)) == ["low_stock", "exhausted"]
    assert len(mail.outbox) == 2 and "out of codes" in mail.outbox[1].subject

    # A restock above the threshold re-arms the alerts.
    with django_capture_on_commit_callbacks(execute=True):
        coupons_generate(pool=pool, count=10, length=8)
        more = make_contacts(8, prefix="more")
        coupons_assign_bulk(pool=pool, contact_ids=more)
    assert PoolAlert.objects.filter(kind="low_stock").count() == 2


def test_periodic_check_alerts_pools_that_ran_low_without_assignments(marketer):
    make_pool(codes=2, low_stock_threshold=5, name="Small")
    make_pool(codes=20, low_stock_threshold=5, name="Big")
    assert [a.pool.name for a in pools_stock_check()] == ["Small"]
    assert pools_stock_check() == []
