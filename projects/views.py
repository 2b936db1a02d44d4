"""Project pages. Reads through selectors, writes through services; permissions via ``agentwise.access``.

Refusals are not caught here one by one: ``NotFound``/``Forbidden`` are Django's 404/403, and any other
refusal a page does not handle itself (a plan limit met by a form, say) is rendered by
``agentwise.middleware.RefusalMiddleware``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agentwise.access import can, get_visible, require
from agentwise.errors import Forbidden, NotFound, Refusal
from billing import limits

from . import charts, dashboards, selectors, services
from .forms import BudgetForm, InviteForm, ProjectForm, RoleForm
from .models import BudgetMetric, Project
from .pricing import micros_to_usd

User = get_user_model()


def _visible_project(request, project_id) -> Project:
    return selectors.project_get_visible(user=request.user, project_id=project_id)


def _refusal_message(request, refusal: Refusal) -> None:
    upgrade = refusal.extra.get("upgrade_url")
    messages.error(request, f"{refusal.message}" + (f" See {upgrade}" if upgrade else ""))


def _form_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


@login_required
def project_list(request):
    show_deleted = request.GET.get("status") == "deleted"
    queryset = selectors.project_list_visible_to(user=request.user, deleted=show_deleted)
    status = request.GET.get("status")
    if status in ("active", "archived"):
        queryset = queryset.filter(status=status)
    search = request.GET.get("q", "").strip()[:100]
    if search:
        queryset = queryset.filter(Q(name__icontains=search) | Q(description__icontains=search))
    page = Paginator(queryset, 25).get_page(request.GET.get("page"))
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(actor=request.user, data=form.cleaned_data)
        except (NotFound, Forbidden):
            raise  # a 404 or 403, not a message on the form
        except Refusal as refusal:
            form.add_error(None, refusal.message)
            form.upgrade_url = refusal.extra.get("upgrade_url")
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, f"Created “{project.name}”.")
            return redirect("project_detail", project_id=project.pk)
    context = {
        "page": page,
        "form": form,
        "show_deleted": show_deleted,
        "status": status,
        "search": search,
        "invitations": selectors.invitation_list_for(user=request.user),
        "summary_rows": dashboards.limit_rows(dashboards.user_usage_summary(request.user)),
    }
    return render(request, "projects/list.html", context)


@login_required
def project_detail(request, project_id):
    project = _visible_project(request, project_id)
    services.project_touch(project=project)
    user = request.user
    executions = selectors.execution_list_visible(user=request.user, project=project).select_related("user")
    agent_type = request.GET.get("agent_type", "").strip()[:100]
    status = request.GET.get("status", "")
    if agent_type:
        executions = executions.filter(agent_type=agent_type)
    if status in ("running", "completed", "failed"):
        executions = executions.filter(status=status)
    page = Paginator(executions, 25).get_page(request.GET.get("page"))

    daily = selectors.project_daily_tokens(project=project)
    labels = [d["day"].strftime("%b %d") for d in daily]
    tokens_chart = charts.line_chart(
        labels=labels,
        series=[("Tokens used", [d["used"] for d in daily], "#4f46e5"), ("Tokens saved", [d["saved"] for d in daily], "#16a34a")],
        title="Tokens used and saved per day, last 30 days",
    )
    success = selectors.project_success_by_agent(project=project)
    success_chart = charts.bar_rows(
        rows=[(row["agent_type"], row["rate"], f"{row['rate']:.0%} of {row['total']}") for row in success],
        title="Success rate by agent type",
    )
    budgets = list(selectors.budget_list_for(user=user, project=project))
    budget_views = _burn_downs(budgets, daily)
    can_manage = can(user, "projects.manage_collaborators", project)
    context = {
        "project": project,
        "page": page,
        "agent_type": agent_type,
        "status": status,
        "tokens_chart": tokens_chart,
        "success_chart": success_chart,
        "budgets": budget_views,
        "collaborators": selectors.collaborator_list(project=project),
        "can_edit": can(user, "projects.change_project", project),
        "can_manage": can_manage,
        "can_report": can(user, "projects.add_execution", project),
        "plan_read_only": not limits.project_writable(project),
        "invite_form": InviteForm() if can_manage else None,
        "role_form": RoleForm(),
        "micros_to_usd": micros_to_usd,
    }
    return render(request, "projects/detail.html", context)


def _burn_downs(budgets, daily) -> list[dict]:
    """Cumulative usage this month against each budget, as a chart."""
    from django.utils import timezone

    month_start = timezone.localdate().replace(day=1)
    this_month = [d for d in daily if d["day"] >= month_start]
    statuses = selectors.budget_statuses(budgets)
    views = []
    for budget in budgets:
        key = "used" if budget.metric == BudgetMetric.TOKENS else "cost"
        running, cumulative = 0, []
        for day in this_month:
            running += day[key]
            cumulative.append(running)
        is_cost = budget.metric == BudgetMetric.COST

        def fmt(value, is_cost=is_cost):
            return f"${micros_to_usd(int(value)):,.2f}" if is_cost else charts._compact(value)

        views.append(
            {
                "budget": budget,
                "status": statuses[budget.pk],
                "limit_label": fmt(budget.monthly_limit),
                "used_label": fmt(statuses[budget.pk]["used"]),
                "chart": charts.line_chart(
                    labels=[d["day"].strftime("%d") for d in this_month] or ["1"],
                    series=[("Used this month", cumulative or [0], "#b45309")],
                    title=f"{budget.get_metric_display()} budget burn-down",
                    guide=("budget", budget.monthly_limit),
                    format_value=fmt,
                ),
            }
        )
    return views


@login_required
def project_settings(request, project_id):
    project = _visible_project(request, project_id)
    user = request.user
    require(user, "projects.change_project", project, message="Viewers cannot change the project.")
    form = ProjectForm(request.POST or None, initial=ProjectForm.initial_for(project))
    budget_form = BudgetForm()
    if request.method == "POST" and form.is_valid():
        try:
            services.project_update(actor=user, project=project, data=form.cleaned_data)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Project saved.")
            return redirect("project_settings", project_id=project.pk)
    context = {
        "project": project,
        "form": form,
        "budget_form": budget_form,
        "budgets": selectors.budget_list_for(user=user, project=project),
        "can_delete": can(user, "projects.delete_project", project),
        "can_budget": can(user, "projects.change_budget", project),
    }
    return render(request, "projects/settings.html", context)


@login_required
@require_POST
def project_status(request, project_id):
    """Archive, re-activate or delete (POST ``action``)."""
    project = _visible_project(request, project_id)
    action = request.POST.get("action")
    try:
        if action == "delete":
            services.project_delete(actor=request.user, project=project)
            messages.success(request, f"Deleted “{project.name}”. You can restore it for 30 days.")
            return redirect(f"{reverse('projects_home')}?status=deleted")
        if action in ("archived", "active"):
            services.project_update(actor=request.user, project=project, data={"status": action})
            messages.success(request, "Project archived." if action == "archived" else "Project active again.")
    except (NotFound, Forbidden):
        raise  # a 404 or 403, not a message on the form
    except Refusal as refusal:
        _refusal_message(request, refusal)
    return redirect("project_settings", project_id=project.pk)


@login_required
@require_POST
def project_restore(request, project_id):
    project = selectors.project_get_visible(user=request.user, project_id=project_id, deleted=True)
    try:
        services.project_restore(actor=request.user, project=project)
    except (NotFound, Forbidden):
        raise  # a 404 or 403, not a message on the form
    except Refusal as refusal:
        _refusal_message(request, refusal)
        return redirect(f"{reverse('projects_home')}?status=deleted")
    messages.success(request, f"Restored “{project.name}”.")
    return redirect("project_detail", project_id=project.pk)


@login_required
@require_POST
def project_budget(request, project_id):
    project = _visible_project(request, project_id)
    if request.POST.get("delete"):
        budget = get_visible(selectors.budget_list_for(user=request.user, project=project), pk=request.POST["delete"])
        services.budget_delete(actor=request.user, budget=budget)
        messages.success(request, "Budget removed.")
    else:
        form = BudgetForm(request.POST)
        if form.is_valid():
            services.budget_set(actor=request.user, project=project, **form.service_kwargs())
            messages.success(request, "Budget saved.")
        else:
            messages.error(request, "Budget not saved: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    return redirect("project_settings", project_id=project.pk)


@login_required
@require_POST
def collaborator_invite(request, project_id):
    project = _visible_project(request, project_id)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a username or an email.")
        return redirect("project_detail", project_id=project.pk)
    who = form.cleaned_data["who"].strip()
    if "@" in who:
        target = {"email": who}
    else:
        invitee = User.objects.filter(username__iexact=who, is_active=True).first()
        if invitee is None:
            messages.error(request, f"No Agentwise user is “@{who}”.")
            return redirect("project_detail", project_id=project.pk)
        target = {"invitee": invitee}
    try:
        services.collaborator_invite(actor=request.user, project=project, role=form.cleaned_data["role"], **target)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except (NotFound, Forbidden):
        raise  # a 404 or 403, not a message on the form
    except Refusal as refusal:
        _refusal_message(request, refusal)
    else:
        messages.success(request, f"Invited {who}; they got an email with a link to accept.")
    return redirect("project_detail", project_id=project.pk)


@login_required
@require_POST
def collaborator_change(request, project_id, collaborator_id):
    project = _visible_project(request, project_id)
    collaborator = selectors.collaborator_get_visible(user=request.user, project=project, key=collaborator_id)
    if request.POST.get("transfer"):  # "Make owner": the existing transfer (projects.services.project_transfer)
        try:
            services.project_transfer(actor=request.user, project=project, new_owner=collaborator.user)
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, f"{collaborator.shown_as} now owns “{project.name}”; you stay on as an editor.")
    elif request.POST.get("remove"):
        services.collaborator_remove(actor=request.user, collaborator=collaborator)
        if collaborator.user_id == request.user.pk:
            messages.success(request, f"You left “{project.name}”.")
            return redirect("projects_home")
        messages.success(request, f"Removed {collaborator.shown_as}.")
    else:
        form = RoleForm(request.POST)
        if form.is_valid():
            services.collaborator_update(actor=request.user, collaborator=collaborator, role=form.cleaned_data["role"])
            messages.success(request, f"{collaborator.shown_as} is now {form.cleaned_data['role']}.")
    return redirect("project_detail", project_id=project.pk)


@login_required
def project_invitation(request, project_id):
    invitation = selectors.invitation_get_for(user=request.user, project_id=project_id)
    if request.method == "POST":
        if request.POST.get("decision") == "accept":
            services.invitation_accept(actor=request.user, invitation=invitation)
            messages.success(request, f"You joined “{invitation.project.name}”.")
            return redirect("project_detail", project_id=project_id)
        services.invitation_decline(actor=request.user, invitation=invitation)
        messages.info(request, "Invitation declined.")
        return redirect("projects_home")
    return render(request, "projects/invitation.html", {"invitation": invitation})


@login_required
def usage_page(request):
    summary = dashboards.user_usage_summary(request.user)
    budgets = list(selectors.budget_list_for(user=request.user))
    statuses = selectors.budget_statuses(budgets)
    context = {
        "section": "usage",
        "summary": summary,
        "rows": dashboards.limit_rows(summary),
        "cost_usd": micros_to_usd(summary["usage"]["cost"]),
        "budgets": [{"budget": b, "status": statuses[b.pk]} for b in budgets],
        "tier": request.user.profile.get_subscription_tier_display(),
    }
    return render(request, "projects/usage.html", context)
