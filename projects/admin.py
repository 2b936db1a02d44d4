"""Staff see and moderate every project here; the same services apply the same rules as the API."""

from django.contrib import admin, messages
from django.db.models import Count

from . import limits, services
from .models import (
    AgentExecution,
    Budget,
    ModelPrice,
    PlanLimit,
    Project,
    ProjectCollaborator,
    ProjectUsage,
    UsageMetric,
)
from .pricing import micros_to_usd


class CollaboratorInline(admin.TabularInline):
    model = ProjectCollaborator
    fk_name = "project"
    extra = 0
    raw_id_fields = ["user", "invited_by"]
    fields = ["user", "role", "invited_by", "invited_at", "accepted_at"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "status", "type", "collaborator_count", "updated_at", "last_accessed_at"]
    list_filter = ["status", "type", "created_at", "updated_at"]
    search_fields = ["name", "description", "user__username", "user__email", "github_repo"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at", "updated_at", "last_accessed_at", "deleted_at", "status_before_delete"]
    inlines = [CollaboratorInline]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    actions = ["purge_expired"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(collaborator_total=Count("collaborators"))

    @admin.display(description="Collaborators", ordering="collaborator_total")
    def collaborator_count(self, obj):
        return obj.collaborator_total

    @admin.action(description="Purge projects deleted more than 30 days ago")
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


@admin.register(PlanLimit)
class PlanLimitAdmin(admin.ModelAdmin):
    list_display = ["tier", "max_active_projects", "max_collaborators_per_project", "executions_per_month", "api_calls_per_day"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        limits.plan_limits_changed(obj.tier)


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "metric", "monthly_limit", "warn_ratio", "hard_cap", "warned_period"]
    list_filter = ["metric", "hard_cap"]
    search_fields = ["user__username", "project__name"]
    raw_id_fields = ["user", "project"]
    list_select_related = ["user", "project"]
