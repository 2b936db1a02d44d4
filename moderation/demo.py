"""Demo moderation data for ``seed_demo``: a few content rules, member reports (one item hidden by
reports), a rule's flag and a blocked scanner, so the admin dashboard has something to show. Through
the services, as real use would leave it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .models import BotDetection, ProfanityPattern
from .reports import report_create
from .rules import pattern_save

DEMO_RULES = [
    {"pattern": "free crypto", "kind": "word", "severity": "high", "action": "block", "category": "spam"},
    {"pattern": "scam", "kind": "word", "severity": "medium", "action": "warn", "category": "fraud"},
    {"pattern": "darn", "kind": "word", "severity": "low", "action": "censor", "category": "inappropriate language"},
    {"pattern": r"(?:buy|cheap)\s+followers", "kind": "regex", "severity": "high", "action": "shadowban", "category": "spam"},
    {"pattern": "dm me for a deal", "kind": "word", "severity": "medium", "action": "require_approval", "category": "spam"},
]
DEMO_SCANNER_ADDRESS = "203.0.113.66"  # TEST-NET-3: never a real client


def seed_moderation(users: dict) -> int:
    """Adds the rules, reports and a block once; returns the number of reports added."""
    if ProfanityPattern.objects.filter(pattern=DEMO_RULES[0]["pattern"]).exists():
        return 0
    from community.models import Message

    staff = users["moderator"]
    for rule in DEMO_RULES:
        pattern_save(actor=staff, data=rule)

    added = 0
    # Linus's and Grace's first messages, reported by the others: three reporters hide one of them.
    targets = list(Message.objects.filter(user__in=[users["linus"], users["grace"]], parent__isnull=True).order_by("created_at")[:2])
    reasons = {"ada": "Looks like self-promotion", "ken": "Off-topic for this channel", "grace": "Spam", "linus": "Spam"}
    if targets:  # three members other than its author: enough to hide it until reviewed
        reporters = [name for name in reasons if users[name].pk != targets[0].user_id][:3]
        for name in reporters:
            _, created = report_create(actor=users[name], content_type="message", content_id=targets[0].pk, reason=reasons[name])
            added += created
    if len(targets) > 1:
        _, created = report_create(actor=users["ada"], content_type="message", content_id=targets[1].pk, reason="Rude")
        added += created
    if targets:  # held by a require-approval rule, flagged in the queue: only ken and staff see it
        from community.services import message_post

        message_post(actor=users["ken"], channel=targets[0].channel, content="DM me for a deal on GPU credits")
    _, created = report_create(actor=users["ken"], content_type="profile", content_id=users["linus"].pk, reason="Impersonation?")
    added += created

    now = timezone.now()
    BotDetection.objects.create(
        ip_address=DEMO_SCANNER_ADDRESS,
        user_agent="",
        request_pattern={"scanner_paths": 240, "not_found_share": 1.0, "user_agent": "missing"},
        confidence_score=0.97,
        is_blocked=True,
        blocked_until=now + timedelta(hours=1),
    )
    return added
