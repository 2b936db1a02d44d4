from django.urls import path

from . import views

urlpatterns = [
    path("", views.project_list, name="projects_home"),
    path("<uuid:project_id>/", views.project_detail, name="project_detail"),
    path("<uuid:project_id>/settings/", views.project_settings, name="project_settings"),
    path("<uuid:project_id>/status/", views.project_status, name="project_status"),
    path("<uuid:project_id>/restore/", views.project_restore, name="project_restore"),
    path("<uuid:project_id>/budgets/", views.project_budget, name="project_budget"),
    path("<uuid:project_id>/collaborators/", views.collaborator_invite, name="project_invite"),
    path("<uuid:project_id>/collaborators/<uuid:collaborator_id>/", views.collaborator_change, name="project_collaborator"),
    path("<uuid:project_id>/invitation/", views.project_invitation, name="project_invitation"),
]
