"""Products, orders (with their lines) and events in the admin."""

from __future__ import annotations

from django.contrib import admin

from contacts.admin.mixins import ExactContactSearchMixin, ExportMixin, ImportMixin
from contacts.models import Event, Order, OrderLine, Product
from contacts.paginator import LargeTablePaginator


@admin.register(Product)
class ProductAdmin(ImportMixin, ExportMixin, admin.ModelAdmin):
    import_kind = "products"
    list_display = ["sku", "name", "category", "brand", "price"]
    list_filter = ["category", "brand"]
    search_fields = ["=sku", "name"]
    ordering = ["-id"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    export_columns = [(f, f) for f in ("sku", "name", "category", "brand", "price", "url", "image_url")]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    autocomplete_fields = ["product"]
    fields = ["product", "sku", "quantity", "unit_price"]


@admin.register(Order)
class OrderAdmin(ExactContactSearchMixin, ImportMixin, ExportMixin, admin.ModelAdmin):
    import_kind = "orders"
    list_display = ["external_id", "contact", "placed_at", "total", "currency", "status", "coupon_code"]
    list_select_related = ["contact"]
    list_filter = ["status", "placed_at"]
    exact_search_fields = ("external_id", "coupon_code")
    ordering = ["-id"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    autocomplete_fields = ["contact"]
    inlines = [OrderLineInline]
    export_columns = [
        ("order_id", "external_id"),
        ("customer_id", "contact__external_id"),
        ("email", "contact__email"),
        ("placed_at", "placed_at"),
        ("status", "status"),
        ("currency", "currency"),
        ("total", "total"),
        ("coupon_code", "coupon_code"),
    ]


@admin.register(Event)
class EventAdmin(ExactContactSearchMixin, ExportMixin, admin.ModelAdmin):
    list_display = ["kind", "contact", "occurred_at", "external_id"]
    list_select_related = ["contact"]
    list_filter = ["kind", "occurred_at"]
    exact_search_fields = ("external_id",)
    ordering = ["-id"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    autocomplete_fields = ["contact"]
    export_columns = [
        ("external_id", "external_id"),
        ("customer_id", "contact__external_id"),
        ("email", "contact__email"),
        ("kind", "kind"),
        ("occurred_at", "occurred_at"),
        ("message_id", "message_id"),
    ]
