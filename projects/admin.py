"""Staff see and moderate every project here. Fields with domain meaning (status, owner, deletion,
collaborators) are read-only: they change through actions that call the same services as the API
(with ``as_moderator=True``), so a deleted project is restorable and purged on time, and limits and
budgets follow the owner."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.template.response import TemplateResponse

from agentwise.errors import Refusal

from . import services
from .models import (
    AgentExecution,
    Budget,
    ModelPrice,
    Project,
    ProjectCollaborator,
    ProjectUsage,
    UsageMetric,
)
from .pricing import micros_to_usd


class CollaboratorInline(admin.TabularInline):
    """Roles change and collaborators are removed through the services; people join by invitation only."""

    model = ProjectCollaborator
    fk_name = "project"
    extra = 0
    fields = ["user", "email", "role", "invited_by", "invited_at", "accepted_at"]
    readonly_fields = ["user", "email", "invited_by", "invited_at", "accepted_at"]

    def has_add_permission(self, request, obj=None):
        return False


class TransferForm(forms.Form):
    new_owner = forms.ModelChoiceField(queryset=get_user_model().objects.none(), label="New owner")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_owner"].queryset = get_user_model().objects.filter(
            collaborations__project=project, collaborations__accepted_at__isnull=False
        )


def _run(modeladmin, request, queryset, action, verb: str) -> None:
    done = 0
    for obj in queryset:
        try:
            action(obj)
        except (Refusal, ValidationError, PermissionDenied) as error:
            text = getattr(error, "message", None) or " ".join(getattr(error, "messages", [str(error)]))
            modeladmin.message_user(request, f"{obj}: {text}", messages.ERROR)
        else:
            done += 1
    modeladmin.message_user(request, f"{verb} {done} project(s).", messages.SUCCESS)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "status", "type", "collaborator_count", "updated_at", "last_accessed_at"]
    list_filter = ["status", "type", "created_at", "updated_at"]
    search_fields = ["name", "description", "user__username", "user__email", "github_repo"]
    raw_id_fields = ["user"]
    readonly_fields = [
        "user", "status", "created_at", "updated_at", "last_accessed_at", "deleted_at", "status_before_delete",
    ]
    inlines = [CollaboratorInline]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    actions = ["archive", "reactivate", "soft_delete", "restore", "transfer", "purge_expired"]

    def has_add_permission(self, request):
        return False  # projects are created by their owner (page, API or CLI)

    def has_delete_permission(self, request, obj=None):
        return False  # "Delete (restorable)" soft-deletes through the service; the purge task removes

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in form.changed_data if field in services.PROJECT_FIELDS}
        if data:
            services.project_update(actor=request.user, project=Project.objects.get(pk=obj.pk), data=data, as_moderator=True)

    def save_formset(self, request, form, formset, change):
        if formset.model is not ProjectCollaborator:
            return super().save_formset(request, form, formset, change)
        # What Django's change message (the admin history) lists, filled as the services act.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            collaborator = inline_form.instance
            if collaborator.pk is None:
                continue
            if inline_form in formset.deleted_forms:
                services.collaborator_remove(actor=request.user, collaborator=collaborator, as_moderator=True)
                formset.deleted_objects.append(collaborator)
            elif "role" in inline_form.changed_data:
                services.collaborator_update(
                    actor=request.user, collaborator=collaborator, role=inline_form.cleaned_data["role"], as_moderator=True
                )
                formset.changed_objects.append((collaborator, ["role"]))

    @admin.action(permissions=["change"], description="Archive")
    def archive(self, request, queryset):
        _run(self, request, queryset, lambda p: services.project_update(
            actor=request.user, project=p, data={"status": "archived"}, as_moderator=True), "Archived")

    @admin.action(permissions=["change"], description="Make active again")
    def reactivate(self, request, queryset):
        _run(self, request, queryset, lambda p: services.project_update(
            actor=request.user, project=p, data={"status": "active"}, as_moderator=True), "Reactivated")

    @admin.action(permissions=["change"], description="Delete (restorable for 30 days, then purged)")
    def soft_delete(self, request, queryset):
        _run(self, request, queryset,
             lambda p: services.project_delete(actor=request.user, project=p, as_moderator=True), "Deleted")

    @admin.action(permissions=["change"], description="Restore deleted projects")
    def restore(self, request, queryset):
        _run(self, request, queryset,
             lambda p: services.project_restore(actor=request.user, project=p, as_moderator=True), "Restored")

    @admin.action(permissions=["change"], description="Transfer ownership to an accepted collaborator")
    def transfer(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Transfer one project at a time.", messages.ERROR)
            return None
        project = queryset.get()
        form = TransferForm(request.POST if "new_owner" in request.POST else None, project=project)
        if form.is_valid():
            _run(self, request, [project], lambda p: services.project_transfer(
                actor=request.user, project=p, new_owner=form.cleaned_data["new_owner"], as_moderator=True), "Transferred")
            return None
        context = {**self.admin_site.each_context(request), "project": project, "form": form, "opts": self.model._meta,
                   "action": "transfer", "title": f"Transfer “{project}”"}
        return TemplateResponse(request, "admin/projects/project/transfer.html", context)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(collaborator_total=Count("collaborators"))

    @admin.display(description="Collaborators", ordering="collaborator_total")
    def collaborator_count(self, obj):
        return obj.collaborator_total

    @admin.action(permissions=["change"], description="Purge projects deleted more than 30 days ago")
    def purge_expired(self, request, queryset):
        count = services.project_purge_expired()
        self.message_user(request, f"Purged {count} rows.", messages.SUCCESS)


@admin.register(AgentExecution)
class AgentExecutionAdmin(admin.ModelAdmin):
    list_display = ["agent_type", "project", "user", "status", "model", "tokens_used", "tokens_saved", "cost_usd", "created_at"]
    list_filter = ["status", "agent_type", "model", "created_at"]
    search_fields = ["agent_type", "command", "project__name", "user__username", "error_message"]
    raw_id_fields = ["project", "user"]
    list_select_related = ["project", "user"]
    date_hierarchy = "created_at"
    readonly_fields = ["cost_micros", "idempotency_key", "created_at", "completed_at"]

    @admin.display(description="Cost (USD)", ordering="cost_micros")
    def cost_usd(self, obj):
        return micros_to_usd(obj.cost_micros)


@admin.register(UsageMetric)
class UsageMetricAdmin(admin.ModelAdmin):
    list_display = ["user", "metric_type", "period_start", "period_end", "value"]
    list_filter = ["metric_type", "period_start"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False  # counters are written by metering only

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProjectUsage)
class ProjectUsageAdmin(admin.ModelAdmin):
    list_display = ["project", "period_start", "executions", "tokens_used", "tokens_saved", "cost_micros"]
    list_filter = ["period_start"]
    search_fields = ["project__name"]
    list_select_related = ["project"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ["model", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "updated_at"]
    search_fields = ["model"]


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "metric", "monthly_limit", "warn_ratio", "hard_cap", "warned_period"]
    list_filter = ["metric", "hard_cap"]
    search_fields = ["user__username", "project__name"]
    raw_id_fields = ["user", "project"]
    list_select_related = ["user", "project"]
