"""Coupon pools in the admin: stock, generate, import and export screens."""

from __future__ import annotations

import io

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import slugify

from audit.services import audit_record_many
from coupons import selectors, services
from coupons.admin.parts import (
    GENERATE_INLINE_MAX,
    _codes_link,
    _may_view_contacts,
    _stock_message,
    csv_streaming_response,
)
from coupons.forms import GenerateCodesForm, ImportCodesForm
from coupons.models import Coupon, CouponPool


@admin.register(CouponPool)
class CouponPoolAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "offer",
        "stock",
        "available",
        "assigned",
        "redeemed",
        "expired",
        "revenue",
        "is_active",
    ]
    list_filter = ["is_active", "offer_kind"]
    search_fields = ["name"]
    actions = [
        "generate_codes",
        "import_codes",
        "export_unassigned",
        "export_assigned",
        "deactivate",
        "activate",
    ]
    fieldsets = [
        (None, {"fields": ["name", "is_active"]}),
        ("Offer", {"fields": ["offer_kind", "offer_value", "offer_currency", "offer_text"]}),
        (
            "Validity",
            {
                "fields": ["valid_until", "valid_days"],
                "description": "A fixed end date, or N days after assignment.",
            },
        ),
        ("Stock", {"fields": ["low_stock_threshold"]}),
    ]
    change_form_template = "admin/coupons/couponpool/change_form.html"

    def get_queryset(self, request):
        return selectors.pools_with_stats(super().get_queryset(request))

    @admin.display(description="Offer", ordering="offer_kind")
    def offer(self, pool: CouponPool) -> str:
        return pool.offer_display

    @admin.display(description="Available", ordering="available_codes")
    def available(self, pool: CouponPool) -> str:
        return _codes_link(pool, pool.available_codes, "available")

    @admin.display(description="Assigned", ordering="assigned_codes")
    def assigned(self, pool: CouponPool) -> str:
        return _codes_link(pool, pool.assigned_codes, "assigned")

    @admin.display(description="Redeemed", ordering="redeemed_codes")
    def redeemed(self, pool: CouponPool) -> int:
        return pool.redeemed_codes

    @admin.display(description="Expired", ordering="expired_codes")
    def expired(self, pool: CouponPool) -> int:
        return pool.expired_codes

    @admin.display(description="Revenue", ordering="redeemed_revenue")
    def revenue(self, pool: CouponPool) -> str:
        return f"{pool.redeemed_revenue:,.2f}"

    @admin.display(description="Stock")
    def stock(self, pool: CouponPool) -> str:
        state = selectors.stock_state(pool)
        if state == "exhausted":
            return mark_safe('<strong style="color:#ba2121">⚠ Exhausted</strong>')  # noqa: S308
        if state == "low":
            return mark_safe('<strong style="color:#c57c00">⚠ Low</strong>')  # noqa: S308
        return "OK"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None:
            for pool in cl.result_list:  # evaluated once here; the template reuses the cached rows
                _stock_message(request, pool)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        pool = self.get_object(request, object_id)
        if pool is not None:
            extra_context["stats"] = pool
            extra_context["stock_state"] = selectors.stock_state(pool)
            extra_context["codes_url"] = (
                reverse("admin:coupons_coupon_changelist") + f"?pool__id__exact={pool.pk}"
            )
            extra_context["recent_alerts"] = list(pool.alerts.all()[:5])
            extra_context["recent_imports"] = list(pool.imports.all()[:5])
            extra_context["may_view_contacts"] = _may_view_contacts(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_deleted_objects(self, objs, request):
        """Summarise a pool's codes instead of listing (and permission-checking) each of them.

        Django's default collects every related row into the confirmation page: a million codes.
        Deleting a pool deletes its codes, alerts, imports and counters with it; the pool's own
        delete permission covers them (codes cannot be deleted one by one).
        """
        pools = list(selectors.pools_with_stats(CouponPool.objects.filter(pk__in=[o.pk for o in objs])))
        codes = sum(pool.total_codes for pool in pools)
        deleted = [format_html("{}: {} codes", pool, f"{pool.total_codes:,}") for pool in pools]
        model_count = {self.opts.verbose_name_plural: len(pools), Coupon._meta.verbose_name_plural: codes}
        return deleted, model_count, set(), []

    # --- extra screens ----------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/generate/", wrap(self.generate_view), name="coupons_couponpool_generate"),
            path("<int:pk>/import/", wrap(self.import_view), name="coupons_couponpool_import"),
            path("<int:pk>/export/<str:which>/", wrap(self.export_view), name="coupons_couponpool_export"),
            *super().get_urls(),
        ]

    def _pool_for(self, request, pk: int, *, change: bool) -> CouponPool:
        pool = get_object_or_404(CouponPool, pk=pk)
        allowed = (
            self.has_change_permission(request, pool) if change else self.has_view_permission(request, pool)
        )
        if not allowed:
            raise PermissionDenied
        return pool

    def _screen(self, request, pool: CouponPool, template: str, **context) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": pool,
                "pool": pool,
                "title": context.pop("title"),
                **context,
            },
        )

    def generate_view(self, request, pk: int):
        pool = self._pool_for(request, pk, change=True)
        form = GenerateCodesForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            change_url = reverse("admin:coupons_couponpool_change", args=[pool.pk])
            if data["count"] > GENERATE_INLINE_MAX:
                from coupons.tasks import coupons_generate_task

                transaction.on_commit(
                    lambda: coupons_generate_task.delay(
                        pool.pk, data["count"], data["prefix"], data["length"]
                    )
                )
                self.message_user(
                    request, f"Generating {data['count']:,} codes in the background.", messages.INFO
                )
                return HttpResponseRedirect(change_url)
            try:
                created = services.coupons_generate(
                    pool=pool, count=data["count"], prefix=data["prefix"], length=data["length"]
                )
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"{created:,} new codes added to {pool}.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        return self._screen(
            request,
            pool,
            "admin/coupons/couponpool/generate.html",
            form=form,
            title=f"Generate codes: {pool}",
        )

    def import_view(self, request, pk: int):
        pool = self._pool_for(request, pk, change=True)
        form = ImportCodesForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if services.code_import_runs_in_background(size=upload.size):
                job = services.code_import_start(pool=pool, upload=upload, user=request.user)
                self.message_user(
                    request,
                    f"Importing {upload.name} in the background: this page shows its progress.",
                    messages.INFO,
                )
                return HttpResponseRedirect(reverse("admin:coupons_codeimport_change", args=[job.pk]))
            report = services.coupons_import_csv(pool=pool, file=io.BytesIO(upload.read()))
            if report.ok:
                text = f"{report.created:,} codes imported into {pool}."
                if report.duplicates:
                    text += f" {len(report.duplicates):,} duplicates skipped."
                self.message_user(request, text, messages.SUCCESS)
                if not report.duplicates:
                    return HttpResponseRedirect(reverse("admin:coupons_couponpool_change", args=[pool.pk]))
            else:
                self.message_user(
                    request, f"Nothing imported: {len(report.errors)} rows have errors.", messages.ERROR
                )
        return self._screen(
            request,
            pool,
            "admin/coupons/couponpool/import.html",
            form=form,
            report=report,
            title=f"Import codes: {pool}",
        )

    def export_view(self, request, pk: int, which: str):
        pool = self._pool_for(request, pk, change=False)
        if which not in ("assigned", "unassigned"):
            raise PermissionDenied
        if which == "assigned" and not _may_view_contacts(request):
            raise PermissionDenied  # the file lists the contacts' emails and ids
        rows = selectors.pool_codes_export_rows(pool=pool, assigned=which == "assigned")
        return csv_streaming_response(rows, f"{slugify(pool.name) or 'pool'}-{which}-codes.csv")

    # --- actions ----------------------------------------------------------------------
    def _single(self, request, queryset) -> CouponPool | None:
        pools = list(queryset[:2])
        if len(pools) != 1:
            self.message_user(request, "Select exactly one pool for this action.", messages.WARNING)
            return None
        return pools[0]

    @admin.action(description="Generate codes…", permissions=["change"])
    def generate_codes(self, request, queryset):
        pool = self._single(request, queryset)
        if pool:
            return HttpResponseRedirect(reverse("admin:coupons_couponpool_generate", args=[pool.pk]))

    @admin.action(description="Import codes from CSV…", permissions=["change"])
    def import_codes(self, request, queryset):
        pool = self._single(request, queryset)
        if pool:
            return HttpResponseRedirect(reverse("admin:coupons_couponpool_import", args=[pool.pk]))

    @admin.action(description="Export unassigned codes (CSV)", permissions=["view"])
    def export_unassigned(self, request, queryset):
        pool = self._single(request, queryset)
        if pool:
            return HttpResponseRedirect(
                reverse("admin:coupons_couponpool_export", args=[pool.pk, "unassigned"])
            )

    @admin.action(description="Export assigned codes (CSV)", permissions=["view"])
    def export_assigned(self, request, queryset):
        pool = self._single(request, queryset)
        if pool:
            return HttpResponseRedirect(
                reverse("admin:coupons_couponpool_export", args=[pool.pk, "assigned"])
            )

    @admin.action(description="Deactivate selected pools", permissions=["change"])
    def deactivate(self, request, queryset):
        pool_ids = list(queryset.values_list("pk", flat=True))  # once: a filtered list loses them after
        count = services.pool_deactivate(pool_ids=pool_ids)
        audit_record_many(
            user=request.user, action="pool.deactivate", object_type="coupons.couponpool", object_ids=pool_ids
        )
        self.message_user(
            request, f"{count} pools deactivated: they hand out no more codes.", messages.SUCCESS
        )

    @admin.action(description="Activate selected pools", permissions=["change"])
    def activate(self, request, queryset):
        from coupons.services.pools import pool_activate

        pool_ids = list(queryset.values_list("pk", flat=True))  # once: a filtered list loses them after
        count = pool_activate(pool_ids=pool_ids)
        audit_record_many(
            user=request.user, action="pool.activate", object_type="coupons.couponpool", object_ids=pool_ids
        )
        self.message_user(request, f"{count} pools activated.", messages.SUCCESS)
