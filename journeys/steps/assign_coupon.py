"""Assign coupon: one code per contact from a pool (idempotent); next / exhausted."""

from __future__ import annotations

from journeys.steps.base import Names, StepKind, StepResult, model_exists, reference_describe


class AssignCoupon(StepKind):
    kind = "assign_coupon"
    label = "Assign coupon"
    fixed_branches = ("next", "exhausted")

    def validate(self, config: dict) -> dict:
        return {"pool_id": model_exists("coupons", "CouponPool", (config or {}).get("pool_id"), "pool_id")}

    def run(self, *, step, enrollments, ctx):
        from coupons.models import CouponPool
        from coupons.services import coupons_assign_bulk

        pool = CouponPool.objects.get(pk=step.config["pool_id"])
        results = {}
        # Holdout contacts are never messaged, so they get no code either.
        wanted = [e for e in enrollments if not e.holdout]
        for e in enrollments:
            if e.holdout:
                results[e.id] = StepResult("next", outcome="holdout")
        assigned = (
            coupons_assign_bulk(pool=pool, contact_ids=[e.contact_id for e in wanted]) if wanted else {}
        )
        for e in wanted:
            coupon = assigned.get(e.contact_id)
            if coupon is None:
                results[e.id] = StepResult("exhausted", outcome="exhausted", detail=f"pool {pool} is empty")
                continue
            e.data = {
                **(e.data or {}),
                "coupon": {
                    "code": coupon.code,
                    "expires_at": coupon.expires_at.isoformat() if coupon.expires_at else None,
                    "offer": pool.offer_display,
                },
            }
            results[e.id] = StepResult("next", outcome="assigned", detail=coupon.code)
        return results

    def describe(self, config: dict, names: Names | None = None) -> str:
        return reference_describe(config, "pool_id", names)
