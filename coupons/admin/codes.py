"""Codes, pool alerts and code imports in the admin."""

from __future__ import annotations

from django.contrib import admin

from coupons.admin.parts import AssignmentFilter, CappedPaginator, _may_view_contacts
from coupons.models import CodeImport, Coupon, PoolAlert


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "pool",
        "contact",
        "assigned_at",
        "expires_at",
        "redemption",
        "redeemed_at",
        "redeemed_revenue",
    ]
    list_select_related = ["pool", "contact"]
    list_filter = ["pool", AssignmentFilter, "redemption"]
    search_fields = ["=code"]
    search_help_text = "Exact code"
    show_full_result_count = False
    paginator = CappedPaginator
    raw_id_fields = ["contact", "order"]
    readonly_fields = [
        "pool",
        "code",
        "contact",
        "assigned_at",
        "expires_at",
        "redemption",
        "redeemed_at",
        "order",
        "redeemed_revenue",
        "created_at",
    ]

    def get_list_display(self, request):
        fields = super().get_list_display(request)
        return fields if _may_view_contacts(request) else [f for f in fields if f != "contact"]

    def get_list_select_related(self, request):
        return ["pool", "contact"] if _may_view_contacts(request) else ["pool"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        hidden = () if _may_view_contacts(request) else ("contact", "order")
        return [f for f in fields if f not in hidden]

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip().upper())

    def has_add_permission(self, request):
        return False  # codes are generated or imported from the pool page

    def has_change_permission(self, request, obj=None):
        return False  # codes change only through assignment and redemption

    def has_delete_permission(self, request, obj=None):
        return False  # a code that went out stays on record; the pool counters count every code


@admin.register(PoolAlert)
class PoolAlertAdmin(admin.ModelAdmin):
    list_display = ["created_at", "pool", "kind", "available"]
    list_filter = ["kind"]
    list_select_related = ["pool"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CodeImport)
class CodeImportAdmin(admin.ModelAdmin):
    """Background code imports: started from a pool's Import codes screen, followed here."""

    list_display = ["created_at", "pool", "original_name", "status", "phase", "rows", "created_codes"]
    list_filter = ["status"]
    list_select_related = ["pool"]
    show_full_result_count = False
    change_form_template = "admin/coupons/codeimport/change_form.html"
    fields = [
        "pool",
        "original_name",
        "status",
        "phase",
        "rows",
        "created_codes",
        "duplicate_codes",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("pool", "created_by")

    def _may_see_pools(self, request) -> bool:
        user = request.user
        return user.has_perm("coupons.view_couponpool") or user.has_perm("coupons.change_couponpool")

    def has_view_permission(self, request, obj=None):
        # Whoever may see pools may follow their imports (the importer needs no extra permission).
        return super().has_view_permission(request, obj) or self._may_see_pools(request)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self._may_see_pools(request)

    def has_add_permission(self, request):
        return False  # started from the pool's Import codes screen

    def has_change_permission(self, request, obj=None):
        return False
