"""Admin: bot detections (read-only, with "Lift block") and the allow list (docs/bot-detection.md)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html

from .. import bots
from ..models import AllowListEntry, BotDetection


class ActiveBlockFilter(admin.SimpleListFilter):
    title = "block"
    parameter_name = "block"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("expired", "Expired"), ("lifted", "Lifted")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(is_blocked=True, lifted_at__isnull=True, blocked_until__gt=now)
        if self.value() == "expired":
            return queryset.filter(lifted_at__isnull=True).filter(Q(blocked_until__lte=now) | Q(blocked_until__isnull=True))
        if self.value() == "lifted":
            return queryset.filter(lifted_at__isnull=False)
        return queryset


@admin.register(BotDetection)
class BotDetectionAdmin(admin.ModelAdmin):
    """Detections are written by the middleware; staff look and lift, nothing else."""

    list_display = ["ip_address", "score", "blocked_until", "active", "user", "signals", "created_at", "lifted_by"]
    list_filter = [ActiveBlockFilter, "created_at", "lifted_at"]
    search_fields = ["ip_address", "user__username", "user__email", "user_agent"]
    list_select_related = ["user", "lifted_by"]
    date_hierarchy = "created_at"
    actions = ["lift_block"]
    fields = [
        "ip_address", "confidence_score", "is_blocked", "blocked_until", "user", "user_agent", "pattern",
        "created_at", "lifted_by", "lifted_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the history of blocks stays; an active one is lifted, not deleted

    @admin.display(description="Score", ordering="confidence_score")
    def score(self, obj):
        return f"{obj.confidence_score:.2f}"

    @admin.display(description="Active?", boolean=True)
    def active(self, obj):
        return bots.detection_is_active(obj)

    @admin.display(description="Signals")
    def signals(self, obj):
        signals = (obj.request_pattern or {}).get("signals") or {}
        return ", ".join(f"{name} {value}" for name, value in sorted(signals.items()) if isinstance(value, int | float))

    @admin.display(description="Request pattern")
    def pattern(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.request_pattern, indent=2, sort_keys=True))

    @admin.action(description="Lift block (the address is served again at once)", permissions=["change"])
    def lift_block(self, request, queryset):
        lifted = 0
        for detection in queryset.filter(lifted_at__isnull=True):
            try:
                bots.bot_block_lift(actor=request.user, detection=detection, request=request)
            except PermissionDenied:
                self.message_user(request, "You may not lift blocks.", messages.ERROR)
                return
            lifted += 1
        self.message_user(request, f"Lifted {lifted} block(s).", messages.SUCCESS)


class AllowListEntryForm(forms.ModelForm):
    class Meta:
        model = AllowListEntry
        fields = ["network", "user", "note"]

    def clean_network(self):
        value = (self.cleaned_data.get("network") or "").strip()
        if not value:
            return ""
        try:
            return str(bots.parse_network(value))
        except ValueError:
            raise ValidationError(
                "Enter an IP address or a CIDR range, such as 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32.",
                code="invalid",
            ) from None

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("network") and not cleaned.get("user") and not self.has_error("network"):
            raise ValidationError("Give an address or range, a user, or both.", code="required")
        return cleaned


@admin.register(AllowListEntry)
class AllowListEntryAdmin(admin.ModelAdmin):
    form = AllowListEntryForm
    list_display = ["network", "user", "note", "created_at"]
    search_fields = ["network", "note", "user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]

    def save_model(self, request, obj, form, change):
        bots.allow_list_entry_save(actor=request.user, entry=obj, request=request)

    def delete_model(self, request, obj):
        bots.allow_list_entry_delete(actor=request.user, entry=obj, request=request)

    def delete_queryset(self, request, queryset):
        for entry in queryset:
            bots.allow_list_entry_delete(actor=request.user, entry=entry, request=request)
