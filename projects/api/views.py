"""Projects API: thin views that load through selectors and write through services."""

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from agentwise.access import can
from agentwise.errors import NotFound
from billing import limits

from .. import selectors, services
from ..models import AgentExecution, Budget, Project, ProjectCollaborator, UsageMetric
from .filters import ExecutionFilter, ProjectFilter, UsageFilter
from .serializers import (
    BudgetSerializer,
    BudgetWriteSerializer,
    CollaboratorInviteSerializer,
    CollaboratorRoleSerializer,
    CollaboratorSerializer,
    ExecutionCreateSerializer,
    ExecutionFinishSerializer,
    ExecutionSerializer,
    ProjectSerializer,
    ProjectWriteSerializer,
    TransferSerializer,
    UsageMetricSerializer,
)

IDEMPOTENCY_KEY_RE = re.compile(r"^[!-~]{1,255}$")
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_RE.pattern, "minLength": 1, "maxLength": 255},
    OpenApiParameter.HEADER,
    description="1–255 visible ASCII characters, e.g. a UUID. Retrying a POST with the same key returns "
    "the first result (200) instead of a duplicate.",
)


class ProjectScopedMixin:
    """Loads the URL's project once, through the visibility selector (invisible → 404)."""

    def get_project(self) -> Project:
        if not hasattr(self, "_project"):
            self._project = selectors.project_get_visible(user=self.request.user, project_id=self.kwargs["project_id"])
        return self._project


@extend_schema_view(
    list=extend_schema(summary="Projects you own or collaborate on", description="Newest `updated_at` first."),
    create=extend_schema(summary="Create a project", request=ProjectWriteSerializer, responses={201: ProjectSerializer}),
    retrieve=extend_schema(summary="One project"),
    partial_update=extend_schema(summary="Update a project (owner, editor)", request=ProjectWriteSerializer),
    destroy=extend_schema(summary="Delete a project (owner)", description="Soft delete: restorable for 30 days."),
)
class ProjectViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    queryset = Project.objects.none()  # for the schema; get_queryset() applies visibility
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        deleted = self.request.query_params.get("status") == "deleted"
        return selectors.project_list_visible_to(user=self.request.user, deleted=deleted)

    def get_object(self) -> Project:
        return selectors.project_get_visible(user=self.request.user, project_id=self.kwargs["pk"])

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {**self.get_serializer_context(), "plan_limits_by_tier": {}}
        limits.projects_note_plan_place(page, memo=context["plan_limits_by_tier"])
        return self.get_paginated_response(ProjectSerializer(page, many=True, context=context).data)

    def _reload(self, project: Project) -> Project:
        return selectors.project_get_visible(
            user=self.request.user, project_id=project.pk, deleted=project.status == "deleted"
        )

    def create(self, request):
        serializer = ProjectWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k != "status"}
        project = services.project_create(actor=request.user, data=data)
        return Response(ProjectSerializer(self._reload(project)).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        project = self.get_object()
        services.project_touch(project=project)
        return Response(ProjectSerializer(project).data)

    def partial_update(self, request, pk=None):
        project = self.get_object()
        serializer = ProjectWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = services.project_update(actor=request.user, project=project, data=serializer.validated_data)
        return Response(ProjectSerializer(self._reload(project)).data)

    def destroy(self, request, pk=None):
        services.project_delete(actor=request.user, project=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Restore a deleted project (owner, within 30 days)", request=None, responses=ProjectSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        project = selectors.project_get_visible(user=request.user, project_id=pk, deleted=True)
        project = services.project_restore(actor=request.user, project=project)
        return Response(ProjectSerializer(self._reload(project)).data)

    @extend_schema(summary="Transfer ownership (owner)", request=TransferSerializer, responses=ProjectSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        project = self.get_object()
        serializer = TransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.project_transfer(actor=request.user, project=project, new_owner=serializer.validated_data["username"])
        return Response(ProjectSerializer(self._reload(project)).data)


class CollaboratorViewSet(ProjectScopedMixin, viewsets.GenericViewSet):
    serializer_class = CollaboratorSerializer
    queryset = ProjectCollaborator.objects.none()
    lookup_field = "user_id"
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    def get_queryset(self):
        project = self.get_project()
        if not can(self.request.user, "projects.view_collaborators", project):
            raise NotFound()
        return selectors.collaborator_list(project=project)

    def get_object(self) -> ProjectCollaborator:
        """By the collaborator's user id, or by the row's id (an email invitation may have no user yet)."""
        return selectors.collaborator_get_visible(user=self.request.user, project=self.get_project(), key=self.kwargs["user_id"])

    @extend_schema(summary="Collaborators and pending invitations")
    def list(self, request, project_id=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CollaboratorSerializer(page, many=True).data)

    @extend_schema(
        summary="Invite a collaborator (owner)",
        description="By `username` or `email`; the invitee gets an email with a link to accept. An invitation "
        "by email is answered the same whether or not an account uses the address, and shows the address, "
        "not the account, until it is accepted. Rate limited per user (429).",
        request=CollaboratorInviteSerializer,
        responses={201: CollaboratorSerializer},
    )
    def create(self, request, project_id=None):
        project = self.get_project()
        serializer = CollaboratorInviteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        collaborator = services.collaborator_invite(
            actor=request.user,
            project=project,
            invitee=serializer.validated_data.get("invitee"),
            email=serializer.validated_data.get("email", ""),
            role=serializer.validated_data["role"],
        )
        return Response(CollaboratorSerializer(collaborator).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a collaborator's role (owner)", request=CollaboratorRoleSerializer)
    def partial_update(self, request, project_id=None, user_id=None):
        collaborator = self.get_object()
        serializer = CollaboratorRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        collaborator = services.collaborator_update(actor=request.user, collaborator=collaborator, **serializer.validated_data)
        return Response(CollaboratorSerializer(collaborator).data)

    @extend_schema(summary="Remove a collaborator or withdraw an invitation (owner), or leave the project (yourself)")
    def destroy(self, request, project_id=None, user_id=None):
        services.collaborator_remove(actor=request.user, collaborator=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationResponseView(generics.GenericAPIView):
    """Accept or decline your pending invitation to a project."""

    serializer_class = CollaboratorSerializer
    queryset = ProjectCollaborator.objects.none()
    decision = "accept"

    @extend_schema(request=None, responses={200: CollaboratorSerializer, 204: None})
    def post(self, request, project_id=None):
        invitation = selectors.invitation_get_for(user=request.user, project_id=project_id)
        if self.decision == "accept":
            return Response(CollaboratorSerializer(services.invitation_accept(actor=request.user, invitation=invitation)).data)
        services.invitation_decline(actor=request.user, invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Executions of a project", description="Newest first."),
    retrieve=extend_schema(summary="One execution"),
)
class ExecutionViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ExecutionSerializer
    filterset_class = ExecutionFilter
    queryset = AgentExecution.objects.none()
    http_method_names = ["get", "post", "patch", "head", "options"]
    partial_update_requires_fields = True  # PATCH finishes the run: status is required

    def get_queryset(self):
        return selectors.execution_list_visible(user=self.request.user, project=self.get_project()).select_related("user")

    def get_object(self):
        return selectors.execution_get_visible(user=self.request.user, project=self.get_project(), execution_id=self.kwargs["pk"])

    @extend_schema(
        summary="Report an agent run (owner, editor)",
        description="Start one (`status: running`, then PATCH to finish) or record a finished one. "
        "Counts against the plan's executions per month and any budget hard cap (402).",
        parameters=[IDEMPOTENCY_HEADER],
        request=ExecutionCreateSerializer,
        responses={201: ExecutionSerializer, 200: ExecutionSerializer},
    )
    def create(self, request, project_id=None):
        project = self.get_project()
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY_RE.fullmatch(key):
            raise ValidationError({"Idempotency-Key": ["Must be 1 to 255 visible ASCII characters (no spaces)."]})
        serializer = ExecutionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        execution, created = services.execution_record(
            actor=request.user, project=project, data=serializer.validated_data, idempotency_key=key
        )
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Complete or fail a running execution (its reporter, or the owner)",
        description="Only the member who reported the run (while an editor) or the project's owner: the tokens "
        "are metered to the reporter.",
        request=ExecutionFinishSerializer,
    )
    def partial_update(self, request, project_id=None, pk=None):
        execution = self.get_object()
        serializer = ExecutionFinishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        execution = services.execution_finish(actor=request.user, execution=execution, data=serializer.validated_data)
        return Response(ExecutionSerializer(execution).data)


@extend_schema_view(
    get=extend_schema(
        summary="Your usage per period",
        description="Counters per day or calendar month: api_calls (API-key requests), executions, "
        "tokens_used (in + out), tokens_saved, projects_created, cost (micro-USD; `cost_usd` in USD).",
    )
)
class UsageView(generics.ListAPIView):
    serializer_class = UsageMetricSerializer
    filterset_class = UsageFilter
    queryset = UsageMetric.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return UsageMetric.objects.none()
        form = UsageFilter(self.request.query_params, queryset=UsageMetric.objects.none()).form
        params = form.cleaned_data if form.is_valid() else {}
        return selectors.usage_metric_list(user=self.request.user, **{k: v for k, v in params.items() if v})

    def filter_queryset(self, queryset):
        super().filter_queryset(queryset)  # validates the query (400 on bad values)
        return queryset


class BudgetViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Monthly budgets: on your account (no project) or on a project you own."""

    serializer_class = BudgetSerializer
    queryset = Budget.objects.none()

    @extend_schema(summary="Your budgets (account and owned projects) with this month's usage")
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        context = {"budget_statuses": selectors.budget_statuses(page)}
        return self.get_paginated_response(BudgetSerializer(page, many=True, context=context).data)

    def get_queryset(self):
        return selectors.budget_list_owned(user=self.request.user).order_by("created_at")

    @extend_schema(request=BudgetWriteSerializer, responses={201: BudgetSerializer}, summary="Set your account budget")
    def create(self, request):
        serializer = BudgetWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        budget = services.budget_set(actor=request.user, **serializer.validated_data)
        return Response(BudgetSerializer(budget).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Remove a budget")
    def destroy(self, request, pk=None):
        budget = selectors.budget_get_owned(user=request.user, budget_id=pk)
        services.budget_delete(actor=request.user, budget=budget)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectBudgetViewSet(ProjectScopedMixin, viewsets.GenericViewSet):
    serializer_class = BudgetSerializer
    queryset = Budget.objects.none()

    @extend_schema(summary="Budgets of a project")
    def list(self, request, project_id=None):
        project = self.get_project()
        page = self.paginate_queryset(selectors.budget_list_for(user=request.user, project=project).order_by("created_at"))
        context = {"budget_statuses": selectors.budget_statuses(page)}
        return self.get_paginated_response(BudgetSerializer(page, many=True, context=context).data)

    @extend_schema(request=BudgetWriteSerializer, responses={201: BudgetSerializer}, summary="Set a project budget (owner)")
    def create(self, request, project_id=None):
        project = self.get_project()
        serializer = BudgetWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        budget = services.budget_set(actor=request.user, project=project, **serializer.validated_data)
        return Response(BudgetSerializer(budget).data, status=status.HTTP_201_CREATED)
