"""Forms for the project pages; they validate input, the services apply the rules."""

from decimal import Decimal

from django import forms

from .models import TECH_MAX_ITEMS, TECH_MAX_LENGTH, BudgetMetric


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=255)
    description = forms.CharField(max_length=10_000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    type = forms.CharField(max_length=100, required=False, help_text="e.g. web, cli, library, data")
    tech_stack = forms.CharField(required=False, help_text="Comma-separated, e.g. Python, Django, HTMX")
    github_repo = forms.URLField(max_length=500, required=False, assume_scheme="https")

    def clean_tech_stack(self):
        items = [item.strip() for item in self.cleaned_data["tech_stack"].split(",") if item.strip()]
        if len(items) > TECH_MAX_ITEMS:
            raise forms.ValidationError(f"At most {TECH_MAX_ITEMS} entries.")
        if any(len(item) > TECH_MAX_LENGTH for item in items):
            raise forms.ValidationError(f"Each entry at most {TECH_MAX_LENGTH} characters.")
        return items  # repeats are dropped by the service

    @classmethod
    def initial_for(cls, project) -> dict:
        return {
            "name": project.name,
            "description": project.description,
            "type": project.type,
            "tech_stack": ", ".join(project.tech_stack),
            "github_repo": project.github_repo,
        }


class InviteForm(forms.Form):
    who = forms.CharField(max_length=254, label="Username or email")
    role = forms.ChoiceField(choices=[("viewer", "Viewer"), ("editor", "Editor")])


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=[("viewer", "Viewer"), ("editor", "Editor")])


class BudgetForm(forms.Form):
    metric = forms.ChoiceField(choices=BudgetMetric.choices)
    monthly_limit = forms.DecimalField(
        min_value=Decimal("0.01"), max_digits=15, decimal_places=2, help_text="Tokens, or US dollars for a cost budget."
    )
    warn_percent = forms.IntegerField(min_value=1, max_value=100, initial=80, label="Warn at (%)")
    hard_cap = forms.BooleanField(required=False, help_text="Refuse new runs once the budget is used up.")

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        limit = data["monthly_limit"]
        monthly_limit = int(limit * 1_000_000) if data["metric"] == BudgetMetric.COST else int(limit)
        return {
            "metric": data["metric"],
            "monthly_limit": max(1, monthly_limit),
            "warn_ratio": Decimal(data["warn_percent"]) / 100,
            "hard_cap": data["hard_cap"],
        }
