"""Plan limits per subscription tier: one table (admin-editable), one way to count against it, one way
to refuse (402 ``plan_limit_reached``, or 429 for the daily API allowance)."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from agentwise.errors import Refusal
from projects.models import Project, ProjectStatus

from .models import PlanLimit
from .plans import DEFAULT_PLAN_LIMITS, LIMIT_LABELS, LIMIT_NAMES, SubscriptionStatus, SubscriptionTier

_CACHE_SECONDS = 60


def _cache_key(tier: str) -> str:
    return f"plan-limits:{tier}"


def effective_tier(profile) -> str:
    """The tier whose limits apply: a past-due account keeps its paid tier until its grace period ends,
    even before the hourly task writes the fall back to Free."""
    if (
        profile.subscription_status == SubscriptionStatus.PAST_DUE
        and profile.subscription_grace_until is not None
        and profile.subscription_grace_until <= timezone.now()
    ):
        return SubscriptionTier.FREE
    return profile.subscription_tier


def plan_limits_for_tier(tier: str) -> dict[str, int | None]:
    limits = cache.get(_cache_key(tier))
    if limits is None:
        row = PlanLimit.objects.filter(tier=tier).values(*LIMIT_NAMES).first()
        limits = row or DEFAULT_PLAN_LIMITS.get(tier) or DEFAULT_PLAN_LIMITS["free"]
        cache.set(_cache_key(tier), limits, _CACHE_SECONDS)
    return limits


def plan_limits_for(user, *, memo: dict | None = None) -> dict[str, int | None]:
    """The user's limits. ``memo`` (a dict kept for one response) answers repeats by tier without a cache
    round trip: a list of 100 projects asks once per owner tier, not once per row. Without one, the memo
    of ``remember_for_request`` serves, if this user object has one."""
    tier = effective_tier(user.profile)
    if memo is None:
        memo = getattr(user, _REQUEST_MEMO, None)
        if memo is None:
            return plan_limits_for_tier(tier)
    if tier not in memo:
        memo[tier] = plan_limits_for_tier(tier)
    return memo[tier]


_REQUEST_MEMO = "_plan_limits_request_memo"


def remember_for_request(user) -> None:
    """Lets this user object answer its plan limits from a memo (by tier) until it is dropped.

    Only for a user object loaded for one request, e.g. by API-key authentication: a report-a-run POST
    asks for the limits in the throttle (daily API calls) and again in the service (executions per
    month), one cache round trip each otherwise. Never on an object that outlives the request (a
    fixture, a socket's scope): a limit edited meanwhile would not be seen.
    """
    setattr(user, _REQUEST_MEMO, {})


def plan_limits_changed(tier: str) -> None:
    cache.delete(_cache_key(tier))


def plan_limit_refusal(*, user, limit: str, allowed: int, current: int, status_code: int = 402, headers=None) -> Refusal:
    tier = SubscriptionTier(effective_tier(user.profile)).label
    return Refusal(
        status_code=status_code,
        code="plan_limit_reached",
        message=(
            f"Your {tier} plan allows {allowed:,} {LIMIT_LABELS[limit]}; you are at {current:,}. "
            f"Upgrade your plan to raise the limit."
        ),
        extra={"limit": limit, "allowed": allowed, "current": current, "upgrade_url": reverse("pricing")},
        headers=headers,
    )


def require_within(*, user, limit: str, count: int, status_code: int = 402, retry_after: int | None = None) -> None:
    """Refuses when ``count`` — what the user would have, this one included — goes past the plan's
    ``limit``. Callers count first (a row count, or a metering counter already incremented) and call
    this; the refusal says how many they had before this one."""
    allowed = plan_limits_for(user).get(limit)
    if allowed is None or count <= allowed:
        return
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    refusal = plan_limit_refusal(
        user=user, limit=limit, allowed=allowed, current=count - 1, status_code=status_code, headers=headers
    )
    if retry_after is not None:
        refusal.extra["retry_after"] = retry_after
    raise refusal


# --- Over the project limit after a downgrade: read-only, never deleted ----------------------------


def _active_projects_before(*, owner, created_at, pk):
    """The owner's active projects that come before one (oldest ``created_at``, then id): its place in line.

    Takes values or ``OuterRef``s, so the check and the list annotation share one definition.
    """
    return Project.objects.filter(user=owner, status=ProjectStatus.ACTIVE).filter(
        Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk)
    )


def projects_annotate_plan_place(queryset):
    """Adds ``owner_active_before`` to each project, in the list's own query, so ``project_writable`` needs
    no query per row (the owner's profile should be ``select_related`` for the same reason)."""
    before = (
        _active_projects_before(owner=OuterRef("user"), created_at=OuterRef("created_at"), pk=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return queryset.annotate(owner_active_before=Coalesce(Subquery(before, output_field=IntegerField()), 0))


def projects_note_plan_place(projects, *, memo: dict | None = None) -> None:
    """Sets ``plan_past_limit`` on each project of one page of a list, so ``project_writable`` needs no query
    per row — without a correlated count per row, which costs an owner with thousands of projects thousands
    of index entries per row.

    One query counts the active projects of the page's limited owners; only when one of them is over their
    limit (rare: a downgrade) a second fetches the ids of that owner's first ``max_active_projects`` active
    projects. At most two queries, each reading an index, not the owner's whole history.
    """
    projects = list(projects)
    for project in projects:
        project.plan_past_limit = False
    active = [project for project in projects if project.status == ProjectStatus.ACTIVE]
    memo = {} if memo is None else memo
    allowed_by_owner = {}
    for project in active:
        if project.user_id not in allowed_by_owner:
            allowed_by_owner[project.user_id] = plan_limits_for(project.user, memo=memo).get("max_active_projects")
    limited = [owner for owner, allowed in allowed_by_owner.items() if allowed is not None]
    if not limited:
        return
    counts = dict(
        Project.objects.filter(user_id__in=limited, status=ProjectStatus.ACTIVE)
        .order_by()
        .values("user")
        .annotate(count=Count("pk"))
        .values_list("user", "count")
    )
    over = {owner for owner in limited if counts.get(owner, 0) > allowed_by_owner[owner]}
    if not over:
        return
    # The first ``allowed`` active projects of each owner over the limit stay writable: one statement (a
    # UNION of one index scan with LIMIT per owner), however many projects those owners have.
    firsts = [
        Project.objects.filter(user_id=owner, status=ProjectStatus.ACTIVE)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[: allowed_by_owner[owner]]
        for owner in over
        if allowed_by_owner[owner] > 0
    ]
    writable = set(firsts[0].union(*firsts[1:], all=True)) if firsts else set()
    for project in active:
        if project.user_id in over:
            project.plan_past_limit = project.pk not in writable


def _allowed_if_past_limit(project, memo: dict | None = None) -> int | None:
    """The owner's ``max_active_projects`` when this project is past it (oldest first), else None.

    Uses ``plan_past_limit`` (a list page, ``projects_note_plan_place``) or ``owner_active_before`` (one
    project, ``projects_annotate_plan_place``) when the project was loaded with one, else counts: one query.
    """
    if project.status != ProjectStatus.ACTIVE:
        return None
    allowed = plan_limits_for(project.user, memo=memo).get("max_active_projects")
    if allowed is None:
        return None
    past_limit = getattr(project, "plan_past_limit", None)
    if past_limit is not None:
        return allowed if past_limit else None
    before = getattr(project, "owner_active_before", None)
    if before is None:
        before = _active_projects_before(owner=project.user_id, created_at=project.created_at, pk=project.pk).count()
    return allowed if before >= allowed else None


def project_writable(project, *, memo: dict | None = None) -> bool:
    """False while the owner has more active projects than their plan allows and this one is past the
    first ``max_active_projects`` (oldest ``created_at`` first). Archived and deleted projects do not
    count, and are not held here (their own rules decide what may change in them)."""
    return _allowed_if_past_limit(project, memo) is None


def require_project_writable(project, *, actor) -> None:
    """Refuses (402 ``plan_limit_reached``) a write to a project its owner's plan no longer covers.

    A downgrade deletes nothing: the projects over the limit become read-only until the owner archives,
    deletes or transfers enough of them, or upgrades. At most one query; a second only to word the
    owner's refusal. A collaborator is told why, but not the owner's plan or project count (theirs).
    """
    allowed = _allowed_if_past_limit(project)
    if allowed is None:
        return
    owner = project.user
    if actor.pk != owner.pk:
        raise Refusal(
            status_code=402,
            code="plan_limit_reached",
            message=(
                "This project is read-only: its owner has more active projects than their plan allows. "
                "It becomes writable again once the owner archives or deletes projects, or upgrades."
            ),
            extra={"limit": "max_active_projects", "upgrade_url": reverse("pricing")},
        )
    current = Project.objects.filter(user=owner, status=ProjectStatus.ACTIVE).count()
    refusal = plan_limit_refusal(user=owner, limit="max_active_projects", allowed=allowed, current=current)
    refusal.message = (
        f"Your {SubscriptionTier(effective_tier(owner.profile)).label} plan allows {allowed:,} active projects; "
        f"you have {current:,}. This project is read-only until you are back under the limit: archive or delete "
        "projects, or upgrade your plan. Nothing has been deleted."
    )
    raise refusal
