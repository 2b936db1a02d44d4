"""Staff moderate the community here; actions call the same services as every other door."""

from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone

from . import services
from .models import Attachment, Channel, ChannelMember, Message, MessageEdit, Reaction


class MemberInline(admin.TabularInline):
    model = ChannelMember
    fk_name = "channel"
    extra = 0
    raw_id_fields = ["user", "added_by"]
    fields = ["user", "added_by", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "type", "state", "is_private", "is_locked", "position", "last_seq"]
    list_filter = ["state", "type", "is_private", "is_locked", "category"]
    list_editable = ["position", "state"]
    search_fields = ["name", "description", "category"]
    inlines = [MemberInline]
    readonly_fields = ["last_seq", "created_at"]


class EditInline(admin.TabularInline):
    model = MessageEdit
    extra = 0
    can_delete = False
    readonly_fields = ["content", "edited_by", "edited_at"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["short", "channel", "user", "seq", "created_at", "edited_at", "deleted_at"]
    list_filter = ["channel", "content_type", "created_at", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["content", "user__username", "user__email"]
    raw_id_fields = ["user", "parent", "channel"]
    list_select_related = ["channel", "user"]
    readonly_fields = ["seq", "created_at", "edited_at", "deleted_at", "reply_count", "last_reply_at", "client_id"]
    inlines = [EditInline]
    date_hierarchy = "created_at"
    actions = ["soft_delete", "purge_authors_recent_messages"]

    @admin.display(description="Message")
    def short(self, obj):
        return (obj.content[:80] + "…") if len(obj.content) > 80 else obj.content

    def has_delete_permission(self, request, obj=None):
        return False  # moderation soft-deletes (content hidden, threads kept); see the actions

    @admin.action(description="Delete selected messages (content hidden, broadcast live)")
    def soft_delete(self, request, queryset):
        count = 0
        for message in queryset.filter(deleted_at__isnull=True).select_related("channel"):
            services.message_delete(actor=request.user, message=message)
            count += 1
        self.message_user(request, f"Deleted {count} messages.", messages.SUCCESS)

    @admin.action(description="Remove ALL messages of these authors from the last 7 days (spam)")
    def purge_authors_recent_messages(self, request, queryset):
        since = timezone.now() - timedelta(days=7)
        authors = {m.user for m in queryset.select_related("user") if m.user is not None}
        total = sum(services.user_messages_purge(actor=request.user, user=author, since=since) for author in authors)
        names = ", ".join(sorted(a.username for a in authors))
        self.message_user(request, f"Removed {total} messages by {names}.", messages.SUCCESS)


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    list_display = ["emoji", "user", "message", "created_at"]
    raw_id_fields = ["user", "message"]
    list_select_related = ["user"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["name", "uploader", "content_type", "size", "message", "created_at"]
    raw_id_fields = ["uploader", "message"]
    list_select_related = ["uploader"]
