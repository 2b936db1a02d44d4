"""Who may do what with projects (the seed's projects policies, plus roles).

A project is visible to its owner and to collaborators who accepted their invitation — to nobody else.
Owner: everything. Editor: update the project and record executions. Viewer: read only.
Answered everywhere through ``user.has_perm("projects.<verb>", project)``.
"""

from __future__ import annotations

import rules

from .models import CollaboratorRole, Project, ProjectStatus

_ROLE_CACHE_ATTR = "_role_for"


def project_role(user, project: Project) -> str | None:
    """The user's role on a project: "owner", "editor", "viewer" or None. Cached on the instance.

    Selectors annotate ``viewer_role`` (for ``viewer_id``) so that lists need no extra query per row.
    """
    if user is None or not user.is_authenticated or project is None:
        return None
    cache = project.__dict__.setdefault(_ROLE_CACHE_ATTR, {})
    if user.pk in cache:
        return cache[user.pk]
    if project.user_id == user.pk:
        role = CollaboratorRole.OWNER.value
    elif getattr(project, "viewer_id", None) == str(user.pk):  # annotated by selectors.project_list_visible_to
        role = project.viewer_role or None
    else:
        role = (
            project.collaborators.filter(user=user, accepted_at__isnull=False).values_list("role", flat=True).first()
        )
    cache[user.pk] = role
    return role


@rules.predicate
def is_owner(user, project) -> bool:
    return project_role(user, project) == CollaboratorRole.OWNER


@rules.predicate
def is_editor_or_owner(user, project) -> bool:
    return project_role(user, project) in {CollaboratorRole.OWNER, CollaboratorRole.EDITOR}


@rules.predicate
def is_member(user, project) -> bool:
    return project_role(user, project) is not None


@rules.predicate
def is_live(user, project) -> bool:
    return project is not None and project.status != ProjectStatus.DELETED


@rules.predicate
def is_active_project(user, project) -> bool:
    return project is not None and project.status == ProjectStatus.ACTIVE


rules.add_perm("projects.add_project", rules.is_authenticated & rules.is_active)
rules.add_perm("projects.view_project", is_member & is_live)
rules.add_perm("projects.change_project", is_editor_or_owner & is_live)
rules.add_perm("projects.delete_project", is_owner & is_live)
rules.add_perm("projects.restore_project", is_owner)
rules.add_perm("projects.transfer_project", is_owner & is_live)
rules.add_perm("projects.view_collaborators", is_member & is_live)
rules.add_perm("projects.manage_collaborators", is_owner & is_live)
rules.add_perm("projects.view_execution", is_member & is_live)
# Runs are reported against active projects only: an archived project is read-only.
rules.add_perm("projects.add_execution", is_editor_or_owner & is_active_project)
rules.add_perm("projects.change_execution", is_editor_or_owner & is_live)
rules.add_perm("projects.view_budget", is_member & is_live)
rules.add_perm("projects.change_budget", is_owner & is_live)
