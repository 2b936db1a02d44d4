"""Demo projects for ``manage.py seed_demo``: projects, collaborators, a few hundred executions over 30 days."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from . import metering, services
from .models import AgentExecution, Project
from .pricing import execution_cost_micros

DEMO_PROJECTS = [
    ("ada", "Analytical compiler", "cli", ["Rust", "LLVM"], ["linus", "grace"]),
    ("ada", "Bernoulli notebook", "data", ["Python", "Jupyter"], ["ken"]),
    ("linus", "Kernel patch bot", "automation", ["C", "Python"], ["ada"]),
    ("grace", "COBOL modernizer", "web", ["TypeScript", "Django", "PostgreSQL"], ["linus", "ken"]),
    ("ken", "Tiny shell", "cli", ["Go"], []),
]
AGENTS = [("claude-code", "claude-sonnet-4"), ("codex", "gpt-4.1"), ("aider", "gpt-4.1-mini"), ("gemini-cli", "gemini-2.5-pro")]
COMMANDS = ["fix failing tests", "refactor module", "write docs", "add feature", "review diff", "migrate schema"]


def seed_projects(users: dict, *, executions_per_project: int = 80, seed: int = 7) -> int:
    """Creates the demo projects once; returns how many executions were added."""
    rng = random.Random(seed)
    added = 0
    now = timezone.now()
    for owner_name, name, kind, tech, collaborators in DEMO_PROJECTS:
        owner = users[owner_name]
        if Project.objects.filter(user=owner, name=name).exists():
            continue
        project = services.project_create(
            actor=owner,
            data={"name": name, "type": kind, "tech_stack": tech, "description": f"Demo project: {name}."},
        )
        for index, collaborator_name in enumerate(collaborators):
            invitation = services.collaborator_invite(
                actor=owner, project=project, invitee=users[collaborator_name], role="editor" if index == 0 else "viewer"
            )
            services.invitation_accept(actor=invitation.user, invitation=invitation)
        executions = []
        for _ in range(executions_per_project):
            agent, model = rng.choice(AGENTS)
            created = now - timedelta(days=rng.uniform(0, 29.5))
            failed = rng.random() < 0.12
            input_tokens = rng.randint(2_000, 60_000)
            cached = rng.randint(0, input_tokens // 2)
            output_tokens = rng.randint(500, 12_000)
            execution = AgentExecution(
                project=project,
                user=owner,
                agent_type=agent,
                model=model,
                command=rng.choice(COMMANDS),
                status="failed" if failed else "completed",
                error_message="Tests still failing after 3 attempts." if failed else "",
                input_tokens=input_tokens,
                cached_input_tokens=cached,
                output_tokens=output_tokens,
                tokens_saved=0 if failed else rng.randint(1_000, 40_000),
                execution_time_ms=rng.randint(4_000, 600_000),
                created_at=created,
                completed_at=created + timedelta(minutes=rng.randint(1, 12)),
            )
            execution.cost_micros = execution_cost_micros(
                model=model, input_tokens=input_tokens, output_tokens=output_tokens, cached_input_tokens=cached
            )
            executions.append(execution)
        AgentExecution.objects.bulk_create(executions)
        added += len(executions)
        _meter_history(owner, project, executions)
    return added


def _meter_history(owner, project, executions) -> None:
    """Feeds the counters one day at a time, as live reports would have."""
    by_day: dict = {}
    for execution in executions:
        day = by_day.setdefault(execution.created_at.date(), [])
        day.append(execution)
    for day_executions in by_day.values():
        at = day_executions[0].created_at
        totals = {
            "executions": len(day_executions),
            "tokens_used": sum(e.tokens_used for e in day_executions),
            "tokens_saved": sum(e.tokens_saved for e in day_executions),
            "cost": sum(e.cost_micros for e in day_executions),
        }
        metering.usage_increment(user_id=owner.pk, counts=totals, at=at)
        metering.project_usage_increment(
            project_id=project.pk,
            at=at,
            executions=totals["executions"],
            tokens_used=totals["tokens_used"],
            tokens_saved=totals["tokens_saved"],
            cost_micros=totals["cost"],
        )

