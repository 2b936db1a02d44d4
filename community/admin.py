"""Staff moderate the community here. Every change goes through the same services as every other
door: a member removed here, or a channel made private, leaves open sockets at once; an edit keeps
its history and is broadcast."""

from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone

from . import services
from .models import (
    Attachment,
    Channel,
    ChannelMember,
    ForumPost,
    ForumPostEdit,
    ForumReply,
    Message,
    MessageEdit,
    Reaction,
)


class MemberInline(admin.TabularInline):
    model = ChannelMember
    fk_name = "channel"
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "added_by", "created_at"]
    readonly_fields = ["added_by", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False  # a membership is added or removed, never edited into another one


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "type", "state", "is_private", "is_locked", "position", "last_seq"]
    list_filter = ["state", "type", "is_private", "is_locked", "category"]
    list_editable = ["position", "state"]
    search_fields = ["name", "description", "category"]
    inlines = [MemberInline]
    readonly_fields = ["last_seq", "created_at"]

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in form.changed_data if field in services.CHANNEL_FIELDS}
        if change:
            saved = services.channel_update(actor=request.user, channel=obj, data=data)
        else:
            saved = services.channel_create(actor=request.user, data={f: getattr(obj, f) for f in services.CHANNEL_FIELDS})
        obj.pk = saved.pk
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        if formset.model is not ChannelMember:
            return super().save_formset(request, form, formset, change)
        # What Django's change message (the admin history) lists, filled as the services act.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        channel = form.instance
        for inline_form in formset.forms:
            member = inline_form.instance
            if inline_form in formset.deleted_forms:
                if member.pk is not None:
                    services.channel_member_remove(actor=request.user, channel=channel, user=member.user)
                    formset.deleted_objects.append(member)
            elif member.pk is None and inline_form.has_changed() and inline_form.cleaned_data.get("user"):
                added = services.channel_member_add(actor=request.user, channel=channel, user=inline_form.cleaned_data["user"])
                formset.new_objects.append(added)


class EditInline(admin.TabularInline):
    model = MessageEdit
    extra = 0
    can_delete = False
    readonly_fields = ["content", "edited_by", "edited_at"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Only the content is editable, and saving it is ``message_edit``: the old text goes to the
    history below, the edit is broadcast, and a deleted message cannot be brought back this way."""

    list_display = ["short", "channel", "user", "seq", "created_at", "edited_at", "deleted_at"]
    list_filter = ["channel", "content_type", "created_at", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["content", "user__username", "user__email"]
    list_select_related = ["channel", "user"]
    fields = ["channel", "user", "parent", "seq", "content", "content_type", "attachments", "client_id",
              "reply_count", "last_reply_at", "created_at", "edited_at", "deleted_at"]
    readonly_fields = ["channel", "user", "parent", "seq", "content_type", "attachments", "client_id", "reply_count",
                       "last_reply_at", "created_at", "edited_at", "deleted_at"]
    inlines = [EditInline]
    date_hierarchy = "created_at"
    actions = ["soft_delete", "purge_authors_recent_messages"]

    def has_add_permission(self, request):
        return False  # messages are posted by members, through the socket or the API

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.deleted_at is not None:
            return [*self.readonly_fields, "content"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if "content" in form.changed_data:
            services.message_edit(actor=request.user, message=Message.objects.get(pk=obj.pk), content=form.cleaned_data["content"])

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # the edit history inline is read-only: nothing to save, nothing to report
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.display(description="Message")
    def short(self, obj):
        return (obj.content[:80] + "…") if len(obj.content) > 80 else obj.content

    def has_delete_permission(self, request, obj=None):
        return False  # moderation soft-deletes (content hidden, threads kept); see the actions

    @admin.action(permissions=["change"], description="Delete selected messages (content hidden, broadcast live)")
    def soft_delete(self, request, queryset):
        count = 0
        for message in queryset.filter(deleted_at__isnull=True).select_related("channel", "user"):
            services.message_delete(actor=request.user, message=message)
            count += 1
        self.message_user(request, f"Deleted {count} messages.", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Remove ALL messages of these authors from the last 7 days (spam)")
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


class ForumPostEditInline(admin.TabularInline):
    model = ForumPostEdit
    extra = 0
    can_delete = False
    readonly_fields = ["title", "content", "edited_by", "edited_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ForumPost)
class ForumPostAdmin(admin.ModelAdmin):
    """Title and text are editable, and saving them is ``forum_post_update`` (the old text goes to the
    history below); pinning and locking are actions calling the same service."""

    list_display = ["title", "channel", "author", "is_pinned", "is_locked", "reply_count", "view_count", "last_reply_at", "created_at"]
    list_filter = ["is_pinned", "is_locked", "channel", "created_at"]
    search_fields = ["title", "content", "author__username"]
    list_select_related = ["channel", "author"]
    fields = ["channel", "author", "title", "content", "tags", "is_pinned", "is_locked", "reply_count", "last_reply_at",
              "view_count", "created_at", "edited_at", "updated_at"]
    readonly_fields = ["channel", "author", "tags", "is_pinned", "is_locked", "reply_count", "last_reply_at",
                       "view_count", "created_at", "edited_at", "updated_at"]
    inlines = [ForumPostEditInline]
    actions = ["pin", "unpin", "lock", "unlock"]

    def has_add_permission(self, request):
        return False  # topics are opened by members through the API

    def has_delete_permission(self, request, obj=None):
        return False  # authors and staff delete through the API (``forum_post_delete``), not around it

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in ("title", "content") if field in form.changed_data}
        if data:
            services.forum_post_update(actor=request.user, post=ForumPost.objects.select_related("channel").get(pk=obj.pk), data=data)

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # the edit history inline is read-only: nothing to save, nothing to report
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def _moderate(self, request, queryset, field: str, value: bool, verb: str):
        for post in queryset.select_related("channel"):
            services.forum_post_update(actor=request.user, post=post, data={field: value})
        self.message_user(request, f"{verb} {queryset.count()} topics.", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Pin selected topics")
    def pin(self, request, queryset):
        self._moderate(request, queryset, "is_pinned", True, "Pinned")

    @admin.action(permissions=["change"], description="Unpin selected topics")
    def unpin(self, request, queryset):
        self._moderate(request, queryset, "is_pinned", False, "Unpinned")

    @admin.action(permissions=["change"], description="Lock selected topics (no new replies)")
    def lock(self, request, queryset):
        self._moderate(request, queryset, "is_locked", True, "Locked")

    @admin.action(permissions=["change"], description="Unlock selected topics")
    def unlock(self, request, queryset):
        self._moderate(request, queryset, "is_locked", False, "Unlocked")


@admin.register(ForumReply)
class ForumReplyAdmin(admin.ModelAdmin):
    """Replies are moderated by soft delete, through ``forum_reply_delete`` (counters recounted)."""

    list_display = ["short", "post", "author", "is_solution", "created_at", "edited_at", "deleted_at"]
    list_filter = ["is_solution", "created_at", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["content", "author__username"]
    list_select_related = ["post", "author"]
    readonly_fields = ["post", "author", "content", "is_solution", "created_at", "edited_at", "deleted_at"]
    actions = ["soft_delete"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # soft delete only; see the action

    @admin.display(description="Reply")
    def short(self, obj):
        return (obj.content[:80] + "…") if len(obj.content) > 80 else obj.content

    @admin.action(permissions=["change"], description="Delete selected replies (kept as tombstones)")
    def soft_delete(self, request, queryset):
        count = 0
        for reply in queryset.filter(deleted_at__isnull=True).select_related("post", "post__channel"):
            services.forum_reply_delete(actor=request.user, reply=reply)
            count += 1
        self.message_user(request, f"Deleted {count} replies.", messages.SUCCESS)
