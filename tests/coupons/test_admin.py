import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from coupons.models import Coupon, CouponPool
from coupons.services import coupons_assign_bulk
from tests.coupons.conftest import make_contacts, make_pool

pytestmark = pytest.mark.django_db
POOLS = reverse("admin:coupons_couponpool_changelist")
CODES = reverse("admin:coupons_coupon_changelist")


def _pools(n: int, start: int = 0) -> list[CouponPool]:
    return [make_pool(codes=6, name=f"Pool {i}", low_stock_threshold=2) for i in range(start, start + n)]


def test_pool_changelist_query_count_does_not_grow_with_pools(admin_client, django_assert_num_queries):
    pools = _pools(3)
    ids = make_contacts(5)
    coupons_assign_bulk(pool=pools[0], contact_ids=ids)  # 1 left: low stock
    # session, user, count, filtered count, page of pools with all their counts (one query)
    with django_assert_num_queries(5):
        response = admin_client.get(POOLS)
    assert response.status_code == 200
    _pools(7, start=3)
    with django_assert_num_queries(5):
        response = admin_client.get(POOLS)
    page = response.content.decode()
    assert "⚠ Low" in page
    assert "Pool 0" in [str(m).split("'")[1] for m in get_messages(response.wsgi_request)]


def test_pool_changelist_counts_do_not_multiply(admin_client):
    pool = make_pool(codes=5, name="Counted")
    ids = make_contacts(2)
    given = coupons_assign_bulk(pool=pool, contact_ids=ids)
    from django.utils.timezone import now

    from contacts.models import Order
    from coupons.services import coupon_redemptions_record

    order = Order.objects.create(
        external_id="o1", contact_id=ids[0], placed_at=now(), total=25, coupon_code=given[ids[0]].code
    )
    coupon_redemptions_record(order_ids=[order.pk])
    response = admin_client.get(POOLS)
    row = response.context["cl"].result_list[0]
    assert (row.available_codes, row.assigned_codes, row.redeemed_codes, row.redeemed_revenue) == (
        3,
        2,
        1,
        25,
    )


def test_code_changelist_query_count(admin_client, django_assert_num_queries):
    pool = make_pool(codes=120)
    coupons_assign_bulk(pool=pool, contact_ids=make_contacts(60))
    # session, user, pool filter choices, capped count, page with pool+contact joined
    with django_assert_num_queries(5):
        response = admin_client.get(CODES, {"pool__id__exact": pool.pk})
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 100


def test_pool_page_shows_stats_and_exhausted_warning(admin_client):
    pool = make_pool(codes=1)
    coupons_assign_bulk(pool=pool, contact_ids=make_contacts(1))
    response = admin_client.get(reverse("admin:coupons_couponpool_change", args=[pool.pk]))
    page = response.content.decode()
    assert "out of codes" in page
    assert f"?pool__id__exact={pool.pk}" in page
    assert reverse("admin:coupons_couponpool_generate", args=[pool.pk]) in page


def test_generate_action_and_form(admin_client):
    pool = make_pool()
    response = admin_client.post(POOLS, {"action": "generate_codes", "_selected_action": [pool.pk]})
    url = reverse("admin:coupons_couponpool_generate", args=[pool.pk])
    assert response.status_code == 302 and response.url == url
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"count": 25, "prefix": "vip-", "length": 8})
    assert response.status_code == 302
    codes = list(Coupon.objects.filter(pool=pool).values_list("code", flat=True))
    assert len(codes) == 25 and all(code.startswith("VIP-") and len(code) == 12 for code in codes)
    response = admin_client.post(url, {"count": 25, "prefix": "=bad", "length": 8})
    assert response.status_code == 200 and Coupon.objects.count() == 25


def test_import_form_reports_errors_and_imports_good_files(admin_client):
    pool = make_pool()
    url = reverse("admin:coupons_couponpool_import", args=[pool.pk])
    bad = SimpleUploadedFile("codes.csv", b"code\nGOOD-1\nbad code\n")
    response = admin_client.post(url, {"file": bad})
    assert response.status_code == 200
    assert "Nothing imported" in response.content.decode() and not Coupon.objects.exists()
    assert response.context["report"].errors[0]["row"] == 3
    good = SimpleUploadedFile("codes.csv", b"code\nGOOD-1\nGOOD-2\n")
    response = admin_client.post(url, {"file": good})
    assert response.status_code == 302
    assert sorted(Coupon.objects.values_list("code", flat=True)) == ["GOOD-1", "GOOD-2"]


def test_export_action_streams_csv(admin_client):
    pool = make_pool(codes=3, name="Export me")
    coupons_assign_bulk(pool=pool, contact_ids=make_contacts(1))
    response = admin_client.post(POOLS, {"action": "export_unassigned", "_selected_action": [pool.pk]})
    response = admin_client.get(response.url)
    assert response.streaming and response["Content-Type"] == "text/csv"
    assert "export-me-unassigned-codes.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["code", "expires_at"] and len(rows) == 3
    response = admin_client.get(reverse("admin:coupons_couponpool_export", args=[pool.pk, "assigned"]))
    assert len(list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))) == 2


def test_deactivate_action(admin_client):
    pools = _pools(2)
    admin_client.post(POOLS, {"action": "deactivate", "_selected_action": [p.pk for p in pools]})
    assert not CouponPool.objects.filter(is_active=True).exists()


def test_screens_need_change_permission(client, django_user_model):
    pool = make_pool()
    user = django_user_model.objects.create_user("v", password="x", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_couponpool"))
    client.force_login(user)
    assert client.get(reverse("admin:coupons_couponpool_generate", args=[pool.pk])).status_code == 403
    assert (
        client.get(reverse("admin:coupons_couponpool_export", args=[pool.pk, "unassigned"])).status_code
        == 200
    )


def test_pool_form_rejects_two_validity_rules(admin_client):
    data = {
        "name": "Both",
        "is_active": "on",
        "offer_kind": "percent",
        "offer_value": "10",
        "offer_currency": "EUR",
        "valid_until_0": "2030-01-01",
        "valid_until_1": "00:00:00",
        "valid_days": "14",
        "low_stock_threshold": "100",
    }
    response = admin_client.post(reverse("admin:coupons_couponpool_add"), data)
    assert response.status_code == 200
    assert "either a fixed end date or a number of days" in response.content.decode()
    data["valid_days"] = ""
    assert admin_client.post(reverse("admin:coupons_couponpool_add"), data).status_code == 302
    assert CouponPool.objects.get(name="Both").valid_days is None


def test_code_search_is_exact_and_case_insensitive(admin_client):
    pool = make_pool(codes=3)
    wanted = Coupon.objects.filter(pool=pool).order_by("pk").first().code
    response = admin_client.get(CODES, {"q": wanted.lower()})
    assert [c.code for c in response.context["cl"].result_list] == [wanted]


def test_alert_changelist_query_count(admin_client, django_assert_num_queries):
    from coupons.services import pools_stock_check

    for i in range(3):
        make_pool(codes=1, name=f"Low {i}", low_stock_threshold=5)
    assert len(pools_stock_check()) == 3
    # session, user, count, page with pools joined, date hierarchy (range, days)
    with django_assert_num_queries(6):
        response = admin_client.get(reverse("admin:coupons_poolalert_changelist"))
    assert response.status_code == 200 and len(response.context["cl"].result_list) == 3


def test_assigned_codes_with_contact_details_need_permission_to_view_contacts(client, django_user_model):
    from django.contrib.auth.models import Permission

    pool = make_pool(codes=2)
    coupons_assign_bulk(pool=pool, contact_ids=make_contacts(1, prefix="secret"))
    user = django_user_model.objects.create_user("v", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_couponpool", "view_coupon"]))
    client.force_login(user)
    assigned = reverse("admin:coupons_couponpool_export", args=[pool.pk, "assigned"])
    assert client.get(assigned).status_code == 403
    unassigned = reverse("admin:coupons_couponpool_export", args=[pool.pk, "unassigned"])
    assert client.get(unassigned).status_code == 200
    assert "secret0@example.com" not in client.get(CODES).content.decode()
    user.user_permissions.add(Permission.objects.get(codename="view_contact"))
    client.force_login(django_user_model.objects.get(pk=user.pk))
    body = b"".join(client.get(assigned).streaming_content).decode()
    assert "secret0@example.com" in body
    assert "secret0@example.com" in client.get(CODES).content.decode()


def test_pool_delete_confirmation_summarises_codes_instead_of_listing_them(
    admin_client, django_assert_max_num_queries
):
    pool = make_pool(codes=300, name="Old campaign")
    coupons_assign_bulk(pool=pool, contact_ids=make_contacts(2))
    url = reverse("admin:coupons_couponpool_delete", args=[pool.pk])
    with django_assert_max_num_queries(8):
        response = admin_client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "300" in page and f"{pool.pk}-CODE00001" not in page
    response = admin_client.post(POOLS, {"action": "delete_selected", "_selected_action": [pool.pk]})
    assert response.status_code == 200 and f"{pool.pk}-CODE00001" not in response.content.decode()
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Coupon.objects.exists() and not CouponPool.objects.exists()
