from django.contrib import admin

from . import limits
from .models import PlanLimit


@admin.register(PlanLimit)
class PlanLimitAdmin(admin.ModelAdmin):
    list_display = ["tier", "max_active_projects", "max_collaborators_per_project", "executions_per_month", "api_calls_per_day"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        limits.plan_limits_changed(obj.tier)
