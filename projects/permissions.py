"""Who may do what with projects (the seed's projects policies, plus roles).

A project is visible to its owner and to collaborators who accepted their invitation — to nobody else.
Owner: everything. Editor: update the project and record executions (and finish their own).
Viewer: read only. A collaborator may leave; only the invitee answers an invitation.
Asked through ``agentwise.access.can`` / ``require`` (``"projects.<verb>_<model>"``).
"""

from __future__ import annotations

import rules

from agentwise.access import add_rules

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


@rules.predicate
def owns_executions_project(user, execution) -> bool:
    return execution is not None and is_owner(user, execution.project) and is_live(user, execution.project)


@rules.predicate
def reported_execution(user, execution) -> bool:
    """The run's reporter, while still an editor: tokens are billed to whoever reported the run."""
    return (
        execution is not None
        and user.is_authenticated
        and execution.user_id == user.pk
        and is_editor_or_owner(user, execution.project)
        and is_live(user, execution.project)
    )


@rules.predicate
def is_that_collaborator(user, collaborator) -> bool:
    return collaborator is not None and user.is_authenticated and collaborator.user_id == user.pk


@rules.predicate
def owns_collaborators_project(user, collaborator) -> bool:
    return collaborator is not None and is_owner(user, collaborator.project) and is_live(user, collaborator.project)


@rules.predicate
def invitation_is_open(user, invitation) -> bool:
    return invitation is not None and invitation.accepted_at is None and invitation.project.status != ProjectStatus.DELETED


add_rules(
    {
        "projects.add_project": rules.is_authenticated & rules.is_active,
        "projects.view_project": is_member & is_live,
        "projects.change_project": is_editor_or_owner & is_live,
        "projects.delete_project": is_owner & is_live,
        "projects.restore_project": is_owner,
        "projects.transfer_project": is_owner & is_live,
        "projects.view_collaborators": is_member & is_live,
        "projects.manage_collaborators": is_owner & is_live,
        # Asked with the collaborator row: the owner removes anyone, a collaborator may leave.
        "projects.remove_collaborator": owns_collaborators_project | is_that_collaborator,
        # Asked with the invitation (a pending collaborator row): only the invitee answers it.
        "projects.answer_invitation": is_that_collaborator & invitation_is_open,
        "projects.view_execution": is_member & is_live,
        # Runs are reported against active projects only: an archived project is read-only.
        "projects.add_execution": is_editor_or_owner & is_active_project,
        # Asked with the execution: its reporter (still an editor) or the project's owner finishes it.
        "projects.change_execution": reported_execution | owns_executions_project,
        "projects.view_budget": is_member & is_live,
        "projects.change_budget": is_owner & is_live,
        # The admin's door only (services take ``as_moderator=True`` there); never reached through the API.
        "projects.moderate_project": rules.is_staff,
    }
)
