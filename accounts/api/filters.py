from django.db.models import Q
from django.utils import timezone
from django_filters import rest_framework as filters

from agentwise.api.filters import StrictFilterSet

from ..models import ApiKey


class ApiKeyFilter(StrictFilterSet):
    state = filters.ChoiceFilter(
        choices=[("active", "active"), ("revoked", "revoked"), ("expired", "expired")], method="filter_state"
    )

    class Meta:
        model = ApiKey
        fields = ["state"]

    def filter_state(self, queryset, name, value):
        now = timezone.now()
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if value == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)
