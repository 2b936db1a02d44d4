"""Plans and Stripe subscriptions. Stripe's own objects (customers, prices, subscriptions, invoices) are
dj-stripe's models; billing keeps only what Stripe does not know: what each tier allows."""

from django.db import models


class PlanLimit(models.Model):
    """What each subscription tier allows; blank means unlimited. Editable in the admin."""

    tier = models.CharField(max_length=50, unique=True)
    max_active_projects = models.PositiveIntegerField(null=True, blank=True)
    max_collaborators_per_project = models.PositiveIntegerField(null=True, blank=True)
    executions_per_month = models.PositiveIntegerField(null=True, blank=True)
    api_calls_per_day = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["tier"]

    def __str__(self) -> str:
        return f"{self.tier} plan limits"
