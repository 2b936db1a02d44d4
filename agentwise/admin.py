"""Ops watch the email outbox here; content is read-only, "retry now" goes through the mail service."""

from django.contrib import admin, messages

from . import mail
from .admin_base import ViewOnlyModelAdmin
from .models import OutboundEmail


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ViewOnlyModelAdmin):
    # No bodies: until sent they may hold sign-in and password-reset links meant for one person only.
    list_display = ["subject", "recipients", "kind", "status", "attempts", "created_at", "next_attempt_at", "sent_at"]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["subject", "to"]
    date_hierarchy = "created_at"
    fields = [
        ("kind", "status"),
        ("from_email", "to"),
        ("cc", "bcc", "reply_to"),
        "subject",
        ("attempts", "next_attempt_at"),
        "last_error",
        ("created_at", "sent_at", "provider_message_id"),
    ]
    readonly_fields = [name for row in fields for name in (row if isinstance(row, tuple) else (row,))]
    actions = ["retry_now"]

    @admin.display(description="To")
    def recipients(self, obj):
        return ", ".join(obj.to)


    def has_retry_permission(self, request):
        return request.user.has_perm("agentwise.change_outboundemail")

    @admin.action(description="Retry now (failed or waiting emails)", permissions=["retry"])
    def retry_now(self, request, queryset):
        count = mail.email_retry(outbound_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {count} email(s) to send now.", messages.SUCCESS)
