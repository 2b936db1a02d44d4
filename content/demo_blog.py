"""Demo blog posts for ``seed_demo``: real advice on running AI coding agents, written through the
services like any post. ``seed_blog`` is idempotent: a post whose slug exists is left as it is."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from . import selectors, services
from .models import PublicationStatus


def _p(text: str) -> dict:
    return {"type": "paragraph", "text": text}


def _h(text: str, level: int = 2) -> dict:
    return {"type": "heading", "text": text, "level": level}


def _code(language: str, text: str) -> dict:
    return {"type": "code", "language": language, "text": text}


def _callout(style: str, text: str) -> dict:
    return {"type": "callout", "style": style, "text": text}


HABITS = {
    "slug": "five-habits-for-running-coding-agents",
    "title": "Five habits for running AI coding agents on a real codebase",
    "tags": ["agents", "workflow"],
    "days_ago": 21,
    "content": [
        _p(
            "Coding agents are good at the middle of a task: reading code, making a change across files, "
            "running the tests and fixing what broke. They are poor at guessing what you meant. Most of "
            "the difference between an agent that saves a day and one that burns one is set up before "
            "the first token is spent. These are the habits we see in teams that get steady results."
        ),
        _h("1. Write the task as a ticket, not a wish"),
        _p(
            "“Improve the billing code” gives the agent nothing to stop on. Say what is wrong, where, and "
            "how you will know it is fixed:\n\n"
            "- **Goal:** invoices for annual plans show the monthly price.\n"
            "- **Where:** `billing/invoices.py`, `templates/billing/invoice.html`.\n"
            "- **Done when:** `tests/billing/test_invoices.py` passes, with a new test for an annual plan.\n"
            "- **Out of scope:** the Stripe webhook handler."
        ),
        _p(
            "A scoped task is also a cheap one: the agent reads fewer files to find its footing, and every "
            "file it does not read is input tokens you do not pay for."
        ),
        _h("2. Let the tests be the contract"),
        _p(
            "An agent that can run the tests can check its own work, and it will keep going until they "
            "pass. Give it the exact command, fast enough to run after every change, and a failing test "
            "that describes the bug when you have one:"
        ),
        _code(
            "bash", "# the loop the agent runs after every edit\npytest -x -q tests/billing/test_invoices.py"
        ),
        _callout(
            "warning",
            "Tell the agent not to change the tests to make them pass. Most agents respect this when it is "
            "written down, and a diff that touches `tests/` is then worth a closer look.",
        ),
        _h("3. Keep diffs small enough to review"),
        _p(
            "A 40-line diff gets read. A 900-line diff gets skimmed and merged, and that is where "
            "regressions come from. Ask for one change per run, and for a refactor and a behaviour change "
            "as two separate commits."
        ),
        _callout(
            "tip", "If the diff does not fit on one screen, ask the agent to split it before you review it."
        ),
        _h("4. Give the agent a map of the repository"),
        _p(
            "Agents re-learn your project on every run. A short file at the root — many tools read "
            "`AGENTS.md` or `CLAUDE.md` — saves that exploration and keeps the agent inside your "
            "conventions:"
        ),
        _code(
            "markdown",
            "# Working in this repository\n\n"
            "- Run the tests: `pytest -x -q` (PostgreSQL: `DATABASE_URL=postgres://…`).\n"
            "- Lint and format: `ruff check . && ruff format .`\n"
            "- Writes go through `services.py`, reads through `selectors.py`.\n"
            "- Never edit migrations that are already on main.",
        ),
        _h("5. Review it like a colleague's pull request"),
        _p(
            "The agent's summary says what it meant to do; the diff says what it did. Read the diff. Check "
            "the edges it was not asked about (error paths, time zones, permissions), and run the code "
            "once yourself before it ships."
        ),
        {
            "type": "quote",
            "text": "Trust the tests, read the diff, and keep the task small enough that you can do both.",
            "attribution": "the Agentwise team",
        },
    ],
}

TOKENS = {
    "slug": "where-your-tokens-go",
    "title": "Where your tokens go: cutting agent costs without slowing down",
    "tags": ["token-costs", "agents"],
    "days_ago": 14,
    "content": [
        _p(
            "An agent run is billed by the tokens it reads and writes. Input usually dominates: every "
            "step re-sends the conversation, the files the agent opened and the tool output it saw. You "
            "cannot cut what you do not measure, so start there."
        ),
        _h("Measure every run"),
        _p(
            "Report each run to Agentwise from your agent wrapper or CI job. The tokens land on the "
            "project's usage page and count towards any budget you set:"
        ),
        _code(
            "bash",
            "curl -X POST https://agentwise.example/api/projects/$PROJECT/executions/ \\\n"
            '  -H "Authorization: Bearer $AGENTWISE_KEY" -H "Content-Type: application/json" \\\n'
            '  -H "Idempotency-Key: run-$RUN_ID" \\\n'
            '  -d \'{"agent_type": "claude-code", "command": "fix failing invoice test",\n'
            '       "model": "claude-sonnet-4", "status": "completed",\n'
            '       "input_tokens": 182000, "cached_input_tokens": 141000, "output_tokens": 9400}\'',
        ),
        _p(
            "`cached_input_tokens` is the part of the input served from the provider's prompt cache. "
            "Watching it per run tells you quickly whether your setup keeps the cache warm."
        ),
        _h("Keep the prompt prefix stable"),
        _p(
            "Providers cache the longest unchanged prefix of a request, and cached input costs a fraction "
            "of fresh input. Put what does not change first — system prompt, repository map, tool "
            "definitions — and what changes last. A timestamp or a random id near the top of the prompt "
            "defeats the cache on every call."
        ),
        _h("Give the agent less to read"),
        _p(
            "- Point it at the files that matter instead of letting it list the whole tree.\n"
            "- Keep generated files, lock files and fixtures out of its search (`.gitignore`, tool ignore "
            "files).\n"
            "- Ask tools for short output: `pytest -q`, `git diff --stat` before `git diff`.\n"
            "- Start a fresh session for an unrelated task instead of dragging a long history along."
        ),
        _callout(
            "warning",
            "One stray `cat` of a 5 MB log can cost more than the rest of the run. Prefer `tail -n 200` or "
            "`grep` with context.",
        ),
        _h("Pick the model per task"),
        _p(
            "A large model for planning and tricky debugging, a smaller one for mechanical edits and "
            "test-fixing loops. Because every run reports its `model`, the usage page shows what each "
            "choice cost, and you can compare the two on the same kind of task."
        ),
    ],
}

GUARDRAILS = {
    "slug": "guardrails-for-unattended-agents",
    "title": "Guardrails for unattended agents: budgets, hard caps and API keys",
    "tags": ["budgets", "security", "agents"],
    "days_ago": 7,
    "content": [
        _p(
            "An agent that runs overnight in CI has nobody watching it. Two failures are common: a loop that "
            "keeps retrying and spends the month's budget by morning, and a credential that ends up "
            "somewhere it should not. Both have cheap guardrails."
        ),
        _h("Set a budget with a hard cap"),
        _p(
            "A monthly budget warns you when a share of it is used (80 % by default), in the app and by "
            "email. With `hard_cap`, new runs are refused with `402 budget_exceeded` once the limit is "
            "reached, so a runaway loop stops instead of spending. Cost budgets are in micro-USD:"
        ),
        _code(
            "bash",
            "# $200 a month on one project, warn at 75 %, refuse new runs at the limit\n"
            "curl -X POST https://agentwise.example/api/projects/$PROJECT/budgets/ \\\n"
            '  -H "Authorization: Bearer $AGENTWISE_KEY" -H "Content-Type: application/json" \\\n'
            '  -d \'{"metric": "cost", "monthly_limit": 200000000, "warn_ratio": 0.75, "hard_cap": true}\'',
        ),
        _callout(
            "tip",
            "Make your wrapper treat a 402 as “stop and tell a human”, not as an error to retry.",
        ),
        _h("One key per machine, with an expiry"),
        _p(
            "Create a separate API key for each laptop and each CI pipeline, with an expiry, so one can be "
            "revoked without breaking the others. A revoked key gets `401` at once, and every websocket it "
            "opened is closed. A key cannot create further keys, so a leaked one cannot outlive its "
            "revocation."
        ),
        _code("bash", 'python manage.py create_api_key ci@example.com --name "nightly CI" --expires-days 90'),
        _callout(
            "danger",
            "Never put a key in the repository or in the agent's prompt. Pass it as a CI secret in an "
            "environment variable, and keep it out of anything the agent may print.",
        ),
        _h("Limit what the agent may touch"),
        _p(
            "Run unattended agents in a container with a throwaway checkout, without production "
            "credentials, and with network access only where the task needs it. Let them open a pull "
            "request; let a person merge it."
        ),
    ],
}

RED_GREEN = {
    "slug": "a-red-green-loop-for-coding-agents",
    "title": "Tests first, then the agent: a red-green loop that works",
    "tags": ["testing", "workflow"],
    "days_ago": 2,
    "content": [
        _p(
            "The most reliable way we know to get a correct change from an agent is the oldest trick in "
            "the book: write the failing test first, then ask for the code."
        ),
        _h("Red: describe the bug as a test"),
        _p(
            "Write the test yourself, or ask the agent to write *only* the test, and read it before going "
            "on. This is the step where your intent is written down in a form a machine can check."
        ),
        _code(
            "python",
            "def test_annual_plan_invoice_shows_the_monthly_price(invoice_for):\n"
            '    invoice = invoice_for(plan="pro", interval="year")\n'
            '    assert invoice.line_items[0].unit_price == Decimal("20.00")',
        ),
        _h("Green: let the agent make it pass"),
        _p(
            "Now the task is closed: make this test pass without changing it, and keep the rest of the "
            "suite green. The agent can run the command as often as it likes, and its stopping point is "
            "no longer a judgement call."
        ),
        _h("Refactor: a separate, reviewable step"),
        _p(
            "Once it is green, a refactor is welcome, but as its own commit, with the suite passing before "
            "and after. Reviewing “the fix” and “the cleanup” separately takes minutes; reviewing them "
            "tangled together takes an afternoon."
        ),
        {
            "type": "quote",
            "text": "A failing test is the clearest prompt you will ever write.",
            "attribution": "",
        },
    ],
}

POSTS = (HABITS, TOKENS, GUARDRAILS, RED_GREEN)


def seed_blog(author) -> list:
    """Creates the demo posts ``author`` (a staff user) does not have yet; returns the ones it created."""
    created = []
    now = timezone.now()
    for spec in POSTS:
        if selectors.blog_posts_visible_to(author).filter(slug=spec["slug"]).exists():
            continue
        post = services.blog_post_create(
            actor=author,
            fields={
                "title": spec["title"],
                "slug": spec["slug"],
                "content": spec["content"],
                "tags": spec["tags"],
            },
            status=PublicationStatus.PUBLISHED,
            published_at=now - timedelta(days=spec["days_ago"]),
            change_summary="Demo post",
        )
        created.append(post)
    return created
