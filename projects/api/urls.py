from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=True)
router.register("projects", views.ProjectViewSet, basename="project")
router.register("budgets", views.BudgetViewSet, basename="budget")

collaborators = views.CollaboratorViewSet
executions = views.ExecutionViewSet

urlpatterns = [
    path(
        "projects/<str:project_id>/collaborators/",
        collaborators.as_view({"get": "list", "post": "create"}),
        name="project-collaborator-list",
    ),
    path(
        "projects/<str:project_id>/collaborators/accept/",
        views.InvitationResponseView.as_view(decision="accept"),
        name="project-invitation-accept",
    ),
    path(
        "projects/<str:project_id>/collaborators/decline/",
        views.InvitationResponseView.as_view(decision="decline"),
        name="project-invitation-decline",
    ),
    path(
        "projects/<str:project_id>/collaborators/<str:user_id>/",
        collaborators.as_view({"patch": "partial_update", "delete": "destroy"}),
        name="project-collaborator-detail",
    ),
    path(
        "projects/<str:project_id>/executions/",
        executions.as_view({"get": "list", "post": "create"}),
        name="project-execution-list",
    ),
    path(
        "projects/<str:project_id>/executions/<str:pk>/",
        executions.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="project-execution-detail",
    ),
    path(
        "projects/<str:project_id>/budgets/",
        views.ProjectBudgetViewSet.as_view({"get": "list", "post": "create"}),
        name="project-budget-list",
    ),
    path("usage/", views.UsageView.as_view(), name="usage"),
    *router.urls,
]
