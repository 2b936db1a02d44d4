"""Admin: the audit log, append-only (view, filter, export as CSV; no add, change or delete for anyone)."""

from __future__ import annotations

import csv
import json

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from agentwise.admin_base import ViewOnlyModelAdmin

from ..models import AuditLog

CSV_COLUMNS = ["created_at", "actor_id", "actor", "action", "resource_type", "resource_id", "ip_address", "user_agent", "metadata"]
CSV_CHUNK = 2000
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell spreadsheets will not run: text starting with = + - @ (or a tab or carriage return) is
    prefixed with a quote (OWASP's CSV injection advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


class _Echo:
    """A file-like object whose write returns the line, so csv.writer feeds a streaming response."""

    def write(self, value):
        return value


def audit_csv_rows(queryset):
    """The header and one line per row, read in chunks: memory stays constant however long the log."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    rows = queryset.select_related("actor").order_by("-created_at", "-pk")
    for row in rows.iterator(chunk_size=CSV_CHUNK):
        yield writer.writerow([csv_cell(value) for value in (
            row.created_at.isoformat(),
            row.actor_id or "",
            row.actor.username if row.actor else "",
            row.action,
            row.resource_type,
            row.resource_id,
            row.ip_address or "",
            row.user_agent,
            json.dumps(row.metadata, sort_keys=True, ensure_ascii=False),
        )])


@admin.register(AuditLog)
class AuditLogAdmin(ViewOnlyModelAdmin):
    list_display = ["created_at", "actor_link", "action", "resource", "ip_address"]
    list_filter = ["action", "resource_type", "created_at"]
    search_fields = ["actor__username", "actor__email", "=resource_id"]
    date_hierarchy = "created_at"
    list_select_related = ["actor"]
    show_full_result_count = False  # counting a long log on every page is the slow part
    list_per_page = 100
    fields = ["created_at", "actor", "action", "resource_type", "resource_id", "ip_address", "user_agent", "metadata"]
    readonly_fields = fields
    change_list_template = "admin/moderation/auditlog/change_list.html"

    # Append-only (ViewOnlyModelAdmin): nobody, a superuser included, adds, edits or deletes rows here.
    def get_actions(self, request):
        return {}  # no "delete selected"

    @admin.display(description="Actor", ordering="actor__username")
    def actor_link(self, obj):
        if obj.actor is None:
            return "—"
        url = reverse("admin:moderation_auditlog_changelist") + f"?actor__id__exact={obj.actor_id}"
        return format_html('<a href="{}">{}</a>', url, obj.actor.username)

    @admin.display(description="Resource", ordering="resource_type")
    def resource(self, obj):
        return f"{obj.resource_type}:{obj.resource_id}" if obj.resource_type else obj.resource_id or "—"

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in ("actor__id__exact", "actor__exact") or super().lookup_allowed(lookup, value, request)

    def get_urls(self):
        urls = [path("export.csv", self.admin_site.admin_view(self.export_csv_view), name="moderation_auditlog_export")]
        return urls + super().get_urls()

    def export_csv_view(self, request):
        """The changelist's current filters and search, as CSV, streamed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter.")
        queryset = changelist.get_queryset(request)
        response = StreamingHttpResponse(audit_csv_rows(queryset), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
        return response
