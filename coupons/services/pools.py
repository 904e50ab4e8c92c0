"""Pool state: activation and stock alerts (low stock / exhausted), each sent once per crossing."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.timezone import now

from coupons.models import Coupon, CouponPool, PoolAlert

logger = logging.getLogger(__name__)

AVAILABLE = Q(assigned_at__isnull=True, redeemed_at__isnull=True)


def pool_deactivate(*, pool_ids: list[int]) -> int:
    return CouponPool.objects.filter(pk__in=pool_ids, is_active=True).update(is_active=False)


def pool_activate(*, pool_ids: list[int]) -> int:
    return CouponPool.objects.filter(pk__in=pool_ids, is_active=False).update(is_active=True)


def pool_stock_check(*, pool: CouponPool, available: int | None = None) -> PoolAlert | None:
    """Record (and email) a stock alert if the pool just crossed its threshold or ran out.

    The crossing is claimed with a conditional UPDATE on the pool row, so concurrent workers send
    the alert once. A restock above the threshold re-arms both alerts.
    """
    if available is None:
        # Counting stops past the threshold: cheap even with a million free codes.
        free = Coupon.objects.filter(AVAILABLE, pool=pool).values("pk")
        available = free[: pool.low_stock_threshold + 1].count()
    pools = CouponPool.objects.filter(pk=pool.pk)
    at = now()
    if available > pool.low_stock_threshold:
        pools.filter(Q(low_stock_alerted_at__isnull=False) | Q(exhausted_alerted_at__isnull=False)).update(
            low_stock_alerted_at=None, exhausted_alerted_at=None
        )
        return None
    if available == 0:
        if not pools.filter(exhausted_alerted_at__isnull=True).update(
            exhausted_alerted_at=at, low_stock_alerted_at=at
        ):
            return None
        kind = PoolAlert.Kind.EXHAUSTED
    else:
        # Restocked a little, but still low: the next exhaustion alerts again.
        pools.filter(exhausted_alerted_at__isnull=False).update(exhausted_alerted_at=None)
        if not pools.filter(low_stock_alerted_at__isnull=True).update(low_stock_alerted_at=at):
            return None
        kind = PoolAlert.Kind.LOW_STOCK
    alert = PoolAlert.objects.create(pool=pool, kind=kind, available=available)
    transaction.on_commit(lambda: _alert_email(alert))
    return alert


def pools_stock_check() -> list[PoolAlert]:
    """Periodic check of every active pool (one query on the pool counters, then one check per pool)."""
    from coupons.selectors import pools_with_stats

    alerts = []
    for pool in pools_with_stats(CouponPool.objects.filter(is_active=True)):
        alert = pool_stock_check(pool=pool, available=pool.available_codes)
        if alert:
            alerts.append(alert)
    return alerts


def _alert_recipients() -> list[str]:
    User = get_user_model()
    perm = Permission.objects.filter(content_type__app_label="coupons", codename="change_couponpool").first()
    who = Q(is_superuser=True)
    if perm is not None:
        who |= Q(user_permissions=perm) | Q(groups__permissions=perm)
    users = User.objects.filter(who, is_active=True, is_staff=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def _alert_email(alert: PoolAlert) -> None:
    recipients = _alert_recipients()
    if not recipients:
        return
    pool = alert.pool
    url = settings.SITE_URL + reverse("admin:coupons_couponpool_change", args=[pool.pk])
    if alert.kind == PoolAlert.Kind.EXHAUSTED:
        subject = f"Coupon pool '{pool.name}' is out of codes"
        body = "Contacts who should get a code from this pool get none until you add codes."
    else:
        subject = f"Coupon pool '{pool.name}' is running low ({alert.available} codes left)"
        body = f"Fewer than {pool.low_stock_threshold} codes are left. Generate or import more codes."
    try:
        send_mail(subject, f"{body}\n\n{url}\n", None, recipients)
    except Exception:  # an alert email must never break an assignment batch
        logger.exception("Could not send the stock alert for pool %s", pool.pk)
