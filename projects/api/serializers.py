"""Projects API shapes."""


from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agentwise.api.fields import (
    HttpURLField,
    JSONObjectField,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
)
from agentwise.api.serializers import FieldsBuiltOnce
from billing import limits

from ..models import (
    TECH_MAX_ITEMS,
    TECH_MAX_LENGTH,
    AgentExecution,
    Budget,
    BudgetMetric,
    ExecutionStatus,
    Project,
    ProjectCollaborator,
    UsageMetric,
)
from ..pricing import micros_to_usd
from ..selectors import budget_statuses

User = get_user_model()
INVITABLE_ROLES = [("editor", "Editor"), ("viewer", "Viewer")]
MAX_TOKENS = 2_000_000_000


class UserSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    username = serializers.CharField(read_only=True)


class ProjectSerializer(serializers.ModelSerializer):
    owner = UserSummarySerializer(source="user", read_only=True)
    role = serializers.SerializerMethodField(help_text="Your role: owner, editor or viewer.")
    read_only = serializers.SerializerMethodField(
        help_text="True while the owner has more active projects than their plan allows and this one is past "
        "the limit (oldest first): nothing is deleted, reads stay open, writes answer 402 plan_limit_reached "
        "until the owner archives or deletes projects, or upgrades."
    )
    github_repo = serializers.CharField(read_only=True, help_text="An http(s) URL, or empty.")
    thumbnail_url = serializers.CharField(read_only=True, help_text="An http(s) URL, or empty.")

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "type",
            "status",
            "tech_stack",
            "github_repo",
            "thumbnail_url",
            "settings",
            "stats",
            "owner",
            "role",
            "read_only",
            "created_at",
            "updated_at",
            "last_accessed_at",
            "deleted_at",
        ]
        read_only_fields = fields

    def get_role(self, project) -> str | None:
        return getattr(project, "viewer_role", None)

    def get_read_only(self, project) -> bool:
        # One plan-limits lookup per owner tier for the whole response, not a cache round trip per row.
        return not limits.project_writable(project, memo=self.context.setdefault("plan_limits_by_tier", {}))


class ProjectWriteSerializer(serializers.Serializer):
    name = StrictCharField(max_length=255)
    description = StrictCharField(max_length=10_000, allow_blank=True, required=False)
    type = StrictCharField(max_length=100, allow_blank=True, required=False)
    tech_stack = serializers.ListField(
        child=StrictCharField(max_length=TECH_MAX_LENGTH), max_length=TECH_MAX_ITEMS, required=False,
        help_text="Short tags, e.g. [\"python\", \"django\"]; repeats are dropped.",
    )
    github_repo = HttpURLField(max_length=500, allow_blank=True, required=False)
    thumbnail_url = HttpURLField(max_length=500, allow_blank=True, required=False)
    settings = JSONObjectField(required=False)
    stats = JSONObjectField(required=False)
    status = serializers.ChoiceField(
        choices=[("active", "active"), ("archived", "archived")],
        required=False,
        help_text="Only on update: archive or re-activate. Use DELETE to delete.",
    )


class CollaboratorSerializer(serializers.ModelSerializer):
    user = serializers.SerializerMethodField(
        help_text="The collaborator; null for an invitation by email until it is accepted (the address is in `email`)."
    )
    email = serializers.SerializerMethodField(help_text="The address invited, for an invitation by email.")
    invited_by = UserSummarySerializer(read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = ProjectCollaborator
        fields = ["id", "user", "email", "role", "state", "invited_by", "invited_at", "accepted_at"]
        read_only_fields = fields

    @extend_schema_field(UserSummarySerializer(allow_null=True))
    def get_user(self, collaborator):
        hidden = collaborator.email and collaborator.accepted_at is None
        if hidden or collaborator.user_id is None:
            return None
        return {"id": str(collaborator.user_id), "username": collaborator.user.username}

    def get_email(self, collaborator) -> str | None:
        return collaborator.email or None

    def get_state(self, collaborator) -> str:
        return "pending" if collaborator.accepted_at is None else "accepted"


class CollaboratorInviteSerializer(serializers.Serializer):
    username = StrictCharField(max_length=50, required=False, help_text="Invite by handle…")
    email = serializers.EmailField(
        required=False,
        help_text="…or by email: answered the same whether or not the address has an account; an address "
        "with no account gets an invitation to sign up, which binds when they confirm the address.",
    )
    role = serializers.ChoiceField(choices=INVITABLE_ROLES, default="viewer")

    def validate(self, attrs):
        if bool(attrs.get("username")) == bool(attrs.get("email")):
            raise serializers.ValidationError({"username": "Give either username or email."})
        if attrs.get("username"):
            invitee = User.objects.filter(username__iexact=attrs["username"], is_active=True).first()
            if invitee is None:  # handles are public (profiles), so naming a missing one reveals nothing
                raise serializers.ValidationError({"username": "No Agentwise user has this username."})
            attrs["invitee"] = invitee
        return attrs


class CollaboratorRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=INVITABLE_ROLES)


class TransferSerializer(serializers.Serializer):
    username = StrictCharField(max_length=50, help_text="An accepted collaborator who becomes the owner.")

    def validate_username(self, value):
        user = User.objects.filter(username__iexact=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError("No Agentwise user has this username.")
        return user


# Fields built once per class (FieldsBuiltOnce): every reported run answers with this, and none of its
# fields reads the context. (A docstring here would become the schema's description.)
class ExecutionSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    tokens_used = serializers.IntegerField(read_only=True)
    cost = serializers.SerializerMethodField(help_text="USD, from the model price table.")
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = AgentExecution
        fields = [
            "id",
            "project",
            "user",
            "agent_type",
            "command",
            "model",
            "status",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "tokens_saved",
            "tokens_used",
            "cost",
            "execution_time_ms",
            "error_message",
            "metadata",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_cost(self, execution) -> str:
        return str(micros_to_usd(execution.cost_micros))


def _token_field():
    return StrictIntegerField(min_value=0, max_value=MAX_TOKENS, required=False)


# Fields built once per class (FieldsBuiltOnce): none of them reads the context.
class ExecutionResultFields(FieldsBuiltOnce, serializers.Serializer):
    """What a finished run reports, whether sent at creation or when finishing."""

    model = StrictCharField(max_length=100, allow_blank=True, required=False)
    input_tokens = _token_field()
    output_tokens = _token_field()
    cached_input_tokens = StrictIntegerField(
        min_value=0, max_value=MAX_TOKENS, required=False,
        help_text="The part of input_tokens read from the provider's prompt cache (at most input_tokens).",
    )
    tokens_saved = _token_field()
    execution_time_ms = StrictIntegerField(min_value=0, max_value=MAX_TOKENS, required=False, allow_null=True)
    error_message = StrictCharField(max_length=10_000, allow_blank=True, required=False)
    metadata = JSONObjectField(required=False)


class ExecutionCreateSerializer(ExecutionResultFields):
    agent_type = StrictCharField(max_length=100)
    command = StrictCharField(max_length=255, allow_blank=True, required=False)
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, default=ExecutionStatus.RUNNING)


class ExecutionFinishSerializer(ExecutionResultFields):
    status = serializers.ChoiceField(choices=[ExecutionStatus.COMPLETED, ExecutionStatus.FAILED])


class UsageMetricSerializer(serializers.ModelSerializer):
    metric = serializers.CharField(source="metric_type", read_only=True)
    period = serializers.SerializerMethodField()
    cost_usd = serializers.SerializerMethodField(help_text="For metric=cost: the value in USD.")

    class Meta:
        model = UsageMetric
        fields = ["metric", "period", "period_start", "period_end", "value", "cost_usd"]
        read_only_fields = fields

    def get_period(self, metric) -> str:
        return "day" if metric.period_start == metric.period_end else "month"

    def get_cost_usd(self, metric) -> str | None:
        return str(micros_to_usd(metric.value)) if metric.metric_type == "cost" else None


class BudgetSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    warn_ratio = serializers.FloatField(read_only=True, help_text="Share of the limit that triggers the warning.")

    class Meta:
        model = Budget
        fields = ["id", "project", "metric", "monthly_limit", "warn_ratio", "hard_cap", "status", "created_at"]
        read_only_fields = fields

    def get_status(self, budget) -> dict:
        statuses = self.context.get("budget_statuses")
        if statuses is None or budget.pk not in statuses:
            statuses = budget_statuses([budget])
        return statuses[budget.pk]


class BudgetWriteSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=BudgetMetric.choices)
    monthly_limit = StrictIntegerField(
        min_value=1, max_value=10**15, help_text="Tokens, or micro-USD for a cost budget (1 USD = 1,000,000)."
    )
    warn_ratio = StrictFloatField(
        min_value=0.01, max_value=1, default=0.8,
        help_text="Warn when this share of the limit is used (0.01–1, kept to 3 decimals).",
    )

    hard_cap = StrictBooleanField(default=False)
