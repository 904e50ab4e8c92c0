"""The audit trail in the admin: filter by user, action, object type and date. Append-only: nobody
adds or edits rows here, and only superusers may delete them."""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import User
from django.utils.html import format_html, format_html_join

from audit.models import AuditEntry


class UserFilter(admin.SimpleListFilter):
    title = "user"
    parameter_name = "username"

    def lookups(self, request, model_admin):
        names = (
            AuditEntry.objects.exclude(username="")
            .order_by("username")
            .values_list("username", flat=True)
            .distinct()[:200]
        )
        return [("-", "the system"), *((n, n) for n in names)]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(username="" if value == "-" else value)


def _show(value) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "who", "action", "object_type", "object_id", "object_repr", "source"]
    list_filter = [UserFilter, "action", "object_type", "source", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=object_id", "object_repr", "username", "action"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 100
    fields = [
        "created_at",
        "username",
        "user",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "source",
        "changes_table",
    ]
    readonly_fields = fields

    @admin.display(description="Who", ordering="username")
    def who(self, obj):
        return obj.username or "system"

    @admin.display(description="Changes")
    def changes_table(self, obj):
        """{field: [before, after]} as a table; anything else as JSON."""
        changes = obj.changes if isinstance(obj.changes, dict) else {}
        pairs = changes and all(isinstance(v, list) and len(v) == 2 for v in changes.values())
        if not pairs:
            return format_html(
                "<pre style='white-space:pre-wrap' data-audit-changes>{}</pre>",
                json.dumps(obj.changes, indent=2, ensure_ascii=False),
            )
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td><pre style='white-space:pre-wrap;margin:0'>{}</pre></td>"
            "<td><pre style='white-space:pre-wrap;margin:0'>{}</pre></td></tr>",
            ((field, _show(before), _show(after)) for field, (before, after) in changes.items()),
        )
        return format_html(
            "<table data-audit-changes><thead><tr><th>field</th><th>before</th><th>after</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


class UserAdmin(DjangoUserAdmin):
    """Django's user admin, except that only superusers make, edit, take over or delete superusers:
    otherwise an Administrator (change_user) could tick "superuser" or reset a superuser's password,
    and then delete audit rows."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("is_superuser")
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # also the password change view, which asks this
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, UserAdmin)
