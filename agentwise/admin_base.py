"""Admin building blocks shared by the apps."""

from django.contrib import admin


class ViewOnlyModelAdmin(admin.ModelAdmin):
    """Rows written only by the system (logs, decisions, the outbox): staff look, nobody — a superuser
    included — adds, edits or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
