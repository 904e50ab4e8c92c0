import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from coupons.models import Coupon, CouponPool

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pick_action(page, pool_name: str, action: str):
    page.get_by_role("row", name=re.compile(pool_name)).get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label=action)
    page.get_by_role("button", name="Go").click()


def test_marketer_creates_a_pool_generates_exports_and_deactivates(marketer_page, live_server, shots):
    page = marketer_page
    page.goto(f"{live_server.url}/admin/coupons/couponpool/add/")
    page.get_by_label("Name").fill("Winback 15%")
    page.get_by_label("Offer value").fill("15")
    page.get_by_label("Valid days").fill("30")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist li.success")).to_contain_text("Winback 15%")
    pool = CouponPool.objects.get(name="Winback 15%")
    assert (pool.offer_kind, pool.offer_value, pool.valid_days, pool.is_active) == ("percent", 15, 30, True)

    _pick_action(page, "Winback 15%", "Generate codes…")
    expect(page).to_have_url(re.compile(rf"/admin/coupons/couponpool/{pool.pk}/generate/$"))
    page.get_by_label("Count").fill("50")
    page.get_by_label("Prefix").fill("wb-")
    page.get_by_label("Length").fill("8")
    page.get_by_role("button", name="Generate codes").click()
    expect(page.locator(".messagelist li.success")).to_contain_text("50 new codes added to Winback 15%")
    # 50 is under the default low-stock threshold (100): the pool page says so.
    expect(page.locator(".messagelist li.warning")).to_contain_text("Running low: 50 codes left")
    assert Coupon.objects.filter(pool=pool).count() == 50
    assert all(re.fullmatch(r"WB-[A-Z0-9]{8}", c) for c in Coupon.objects.values_list("code", flat=True))

    page.goto(f"{live_server.url}/admin/coupons/couponpool/")
    row = page.get_by_role("row", name=re.compile("Winback 15%"))
    expect(row.locator("td.field-available")).to_have_text("50")
    expect(row.locator("td.field-assigned")).to_have_text("0")
    page.screenshot(path=str(shots / "coupons-pool-list.png"), full_page=True)

    with page.expect_download() as download_info:
        _pick_action(page, "Winback 15%", "Export unassigned codes (CSV)")
    download = download_info.value
    assert download.suggested_filename == "winback-15-unassigned-codes.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["code", "expires_at"]
    assert sorted(r[0] for r in rows[1:]) == sorted(Coupon.objects.values_list("code", flat=True))

    page.goto(f"{live_server.url}/admin/coupons/couponpool/")
    _pick_action(page, "Winback 15%", "Deactivate selected pools")
    expect(page.locator(".messagelist li.success")).to_contain_text("1 pools deactivated")
    row = page.get_by_role("row", name=re.compile("Winback 15%"))
    expect(row.locator("td.field-is_active img")).to_have_attribute("alt", "False")
    pool.refresh_from_db()
    assert pool.is_active is False
    page.screenshot(path=str(shots / "coupons-pool-deactivated.png"), full_page=True)
