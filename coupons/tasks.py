"""Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from coupons.models import CouponPool
from coupons.services import coupons_generate, pool_counters_fold, pools_stock_check


@shared_task
def coupon_pools_stock_check() -> int:
    return len(pools_stock_check())


@shared_task
def coupons_generate_task(pool_id: int, count: int, prefix: str, length: int) -> int:
    pool = CouponPool.objects.get(pk=pool_id)
    return coupons_generate(pool=pool, count=count, prefix=prefix, length=length)


@shared_task
def code_import_run_task(job_id: int) -> int | None:
    from coupons.services.imports import code_import_run

    report = code_import_run(job_id=job_id)
    return None if report is None else report.created


@shared_task
def coupon_pool_counters_fold() -> int:
    return pool_counters_fold()


@shared_task
def code_imports_resume_task() -> int:
    from coupons.services.imports import code_imports_resume

    return len(code_imports_resume())
