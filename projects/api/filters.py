from django.db import connection
from django_filters import rest_framework as filters

from agentwise.api.filters import StrictFilterSet, UTCDateTimeFilter

from ..models import AgentExecution, ExecutionStatus, Project, UsageMetricType


class ProjectFilter(StrictFilterSet):
    status = filters.ChoiceFilter(
        choices=[("active", "active"), ("archived", "archived"), ("deleted", "deleted (yours, restorable)")],
        method="filter_status",
        help_text="`deleted` lists your soft-deleted projects that can still be restored.",
    )
    type = filters.CharFilter(field_name="type", lookup_expr="iexact", max_length=100)
    tech = filters.CharFilter(method="filter_tech", max_length=40, help_text="Projects whose tech_stack has this entry (case-insensitive).")
    search = filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=100, help_text="Part of the name.")

    class Meta:
        model = Project
        fields = ["status", "type", "tech", "search"]

    def filter_status(self, queryset, name, value):
        # "deleted" is handled by the view, which swaps in the restorable-projects selector.
        return queryset if value == "deleted" else queryset.filter(status=value)

    def filter_tech(self, queryset, name, value):
        table = Project._meta.db_table
        if connection.vendor == "postgresql":
            where = f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({table}.tech_stack) t WHERE lower(t) = lower(%s))"
        else:
            where = f"EXISTS (SELECT 1 FROM json_each({table}.tech_stack) WHERE lower(json_each.value) = lower(%s))"
        return queryset.extra(where=[where], params=[value])  # noqa: S610 (value is a bound parameter)


class ExecutionFilter(StrictFilterSet):
    agent_type = filters.CharFilter(field_name="agent_type", max_length=100)
    status = filters.ChoiceFilter(choices=ExecutionStatus.choices)
    since = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte", help_text="ISO 8601, inclusive.")
    until = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="ISO 8601, exclusive.")

    class Meta:
        model = AgentExecution
        fields = ["agent_type", "status", "since", "until"]


class UsageFilter(StrictFilterSet):
    metric = filters.ChoiceFilter(choices=UsageMetricType.choices, method="noop")
    period = filters.ChoiceFilter(choices=[("day", "day"), ("month", "month")], method="noop")
    since = filters.DateFilter(method="noop", help_text="First day (YYYY-MM-DD).")
    until = filters.DateFilter(method="noop", help_text="Last day (YYYY-MM-DD).")

    def noop(self, queryset, name, value):
        return queryset  # the view passes the validated values to the selector
