"""Code-owned periodic tasks of the coupons app (merged by winback/schedule.py)."""

BEAT_SCHEDULE = {
    "coupons-code-imports-resume": {
        "task": "coupons.tasks.code_imports_resume_task",
        "schedule": 10 * 60.0,
    },
    "coupons-pool-counters-fold": {
        "task": "coupons.tasks.coupon_pool_counters_fold",
        "schedule": 5 * 60.0,
    },
    "coupons-pools-stock-check": {
        "task": "coupons.tasks.coupon_pools_stock_check",
        "schedule": 15 * 60.0,
    },
}
