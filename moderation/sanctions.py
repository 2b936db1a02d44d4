"""Sanctions and new-user limits (docs/reports-and-sanctions.md).

A user's *standing* (their sanctions not lifted nor expired, and when they last had content removed or
were sanctioned) is cached per user and dropped on every change, so the checks on the hot path — every
post, every request of a signed-in session, every websocket frame — cost no database query. Expiry is
decided by the clock at each check (``expires_at``), never by a job.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from agentwise.access import require
from agentwise.errors import Refusal

from .models import DecisionKind, ModerationDecision, Sanction, SanctionKind

STANDING_TTL_SECONDS = 600  # a safety net only: every change drops the entry at once
# Decisions that count against a user's good standing (new-user limits stay while one is recent).
STRIKE_KINDS = (DecisionKind.REMOVE, DecisionKind.SANCTION, DecisionKind.PURGE)
MAX_REASON_CHARS = 2000

# Links and images a new user may not post: markdown links and images, HTML anchors and images,
# bare URLs (with a scheme or www.).
_LINK_OR_IMAGE = re.compile(
    r"!\[[^\]]*\]\s*\(|\[[^\]]*\]\s*\(\s*[^)\s]+|<\s*img\b|<\s*a\b|\b(?:https?|ftp)://|\bwww\.[a-z0-9-]+\.",
    re.IGNORECASE,
)


def _key(user_id) -> str:
    return f"moderation:standing:{user_id}"


def _ts(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _load_standings(user_ids) -> dict:
    """``{user_id (str): standing}`` for these users in two queries, however many they are."""
    now = timezone.now()
    result = {str(u): {"sanctions": [], "strike_at": None} for u in user_ids}
    rows = Sanction.objects.filter(user_id__in=list(result), lifted_at__isnull=True).exclude(expires_at__lte=now)
    for s in rows:
        result[str(s.user_id)]["sanctions"].append({
            "id": str(s.pk),
            "kind": s.kind,
            "reason": s.reason,
            "posts_per_hour": s.posts_per_hour,
            "starts_at": _ts(s.starts_at),
            "expires_at": _ts(s.expires_at),
        })
    strikes = (ModerationDecision.objects.filter(target_user_id__in=list(result), kind__in=STRIKE_KINDS).order_by()
               .values("target_user_id").annotate(at=Max("created_at")).values_list("target_user_id", "at"))
    for user_id, at in strikes:
        result[str(user_id)]["strike_at"] = _ts(at)
    return result


def standing(user_id) -> dict:
    """``{"sanctions": [...], "strike_at": epoch or None}`` from the cache (one query set on a miss)."""
    data = cache.get(_key(user_id))
    if data is None:
        data = _load_standings([user_id])[str(user_id)]
        cache.set(_key(user_id), data, STANDING_TTL_SECONDS)
    return data


def standing_forget(user_id) -> None:
    """Drops the cached standing now and again after commit (a reader between the two re-reads the old rows)."""
    cache.delete(_key(user_id))
    transaction.on_commit(lambda: cache.delete(_key(user_id)))


def _active(data: dict, kind: str, now: datetime) -> list[dict]:
    moment = now.timestamp()
    return [
        s for s in data["sanctions"]
        if s["kind"] == kind and s["starts_at"] <= moment and (s["expires_at"] is None or s["expires_at"] > moment)
    ]


def _until(entry: dict) -> str:
    if entry["expires_at"] is None:
        return "until a moderator lifts it"
    return "until " + datetime.fromtimestamp(entry["expires_at"], tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _expires_iso(entry: dict) -> str | None:
    if entry["expires_at"] is None:
        return None
    return datetime.fromtimestamp(entry["expires_at"], tz=UTC).isoformat().replace("+00:00", "Z")


def _longest(entries: list[dict]) -> dict:
    """The sanction that lasts longest (open-ended first): the one to name to the user."""
    return max(entries, key=lambda s: math.inf if s["expires_at"] is None else s["expires_at"])


def suspension_for(user_id, *, now: datetime | None = None) -> dict | None:
    """The user's active suspension (``reason``, ``expires_at`` as epoch or None), or None. No query when cached."""
    if user_id is None:
        return None
    active = _active(standing(user_id), SanctionKind.SUSPEND, now or timezone.now())
    return _longest(active) if active else None


def suspension_exists(user_ref: str = "pk", *, now: datetime | None = None):
    """An ``Exists`` expression: the user at ``OuterRef(user_ref)`` has a suspension in force. Lets the
    queries that load a credential's user answer it too (API keys, sockets' bulk checks): no extra query."""
    from django.db.models import Exists, OuterRef, Q

    now = now or timezone.now()
    return Exists(Sanction.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        user_id=OuterRef(user_ref), kind=SanctionKind.SUSPEND, lifted_at__isnull=True, starts_at__lte=now,
    ))


def standing_warm(user_id) -> None:
    """Reads the standing into the cache (at sign-in), so the user's first requests find it there."""
    standing(user_id)


def suspension_refusal(entry: dict) -> Refusal:
    """What a suspended user is told (sign-in, API key, session), with the reason and expiry."""
    return Refusal(
        f"Your account is suspended {_until(entry)}. Reason: {entry['reason']}",
        status_code=403,
        code="account_suspended",
        extra={"reason": entry["reason"], "expires_at": _expires_iso(entry)},
    )


def suspension_message(entry: dict) -> str:
    return suspension_refusal(entry).message


def is_new_user_limited(actor, *, now: datetime | None = None) -> bool:
    """Discourse's trust level 0: an account younger than ``MODERATION_NEW_USER_DAYS``, or one with content
    removed or a sanction in that many days, posts at a lower rate and without links or images. The limits
    lift by themselves once both are older. Staff are never limited."""
    if actor.is_staff:
        return False
    now = now or timezone.now()
    window = timedelta(days=settings.MODERATION_NEW_USER_DAYS)
    if actor.date_joined > now - window:
        return True
    strike = standing(actor.pk)["strike_at"]
    return strike is not None and strike > (now - window).timestamp()


def posting_check(*, actor, text: str, field: str = "content", surface: str = "") -> None:
    """Refuses a post from a silenced or suspended user (403, with the reason and expiry), past a posting
    limit (429), or a new user's link or image (400 on ``field``). Checking twice counts nothing twice:
    the rate is the user's posts of the last hour, read from the content itself."""
    if actor is None or not actor.is_authenticated:
        return
    now = timezone.now()
    data = standing(actor.pk)
    for kind, code, verb in ((SanctionKind.SUSPEND, "account_suspended", "suspended"), (SanctionKind.SILENCE, "silenced", "silenced")):
        active = _active(data, kind, now)
        if active:
            entry = _longest(active)
            raise Refusal(
                f"You are {verb} {_until(entry)}: you can read but not post. Reason: {entry['reason']}",
                status_code=403, code=code, extra={"reason": entry["reason"], "expires_at": _expires_iso(entry)},
            )
    limits = [s for s in _active(data, SanctionKind.POST_LIMIT, now) if s["posts_per_hour"]]
    per_hour, reason = None, ""
    if limits:
        strictest = min(limits, key=lambda s: s["posts_per_hour"])
        per_hour, reason = strictest["posts_per_hour"], strictest["reason"]
    if is_new_user_limited(actor, now=now):
        days = settings.MODERATION_NEW_USER_DAYS
        _refuse_links(text, field=field)
        if per_hour is None or settings.MODERATION_NEW_USER_POST_RATE < per_hour:
            per_hour, reason = settings.MODERATION_NEW_USER_POST_RATE, f"New accounts post at most {settings.MODERATION_NEW_USER_POST_RATE} times an hour for their first {days} days."
    if per_hour is not None:
        _hourly_check(actor, per_hour=per_hour, reason=reason, now=now)


def _refuse_links(text: str, *, field: str) -> None:
    if text and _LINK_OR_IMAGE.search(text):
        raise ValidationError({field: (
            f"New accounts cannot post links or images during their first {settings.MODERATION_NEW_USER_DAYS} days "
            "(or for a while after a moderator acted on their content)."
        )})


def new_user_link_check(*, actor, text: str, field: str) -> None:
    """The new-user link rule alone, for a second field of one post (a topic's title): the post itself
    passes ``posting_check`` once."""
    if actor is not None and actor.is_authenticated and is_new_user_limited(actor):
        _refuse_links(text, field=field)


def _hourly_check(actor, *, per_hour: int, reason: str, now: datetime) -> None:
    """Refuses (429) a post past ``per_hour`` posts (chat messages, topics, replies) in the last hour."""
    from community.models import ForumPost, ForumReply, Message

    since = now - timedelta(hours=1)
    times = []
    for queryset in (
        Message.objects.filter(user=actor, created_at__gt=since),
        ForumPost.objects.filter(author=actor, created_at__gt=since),
        ForumReply.objects.filter(author=actor, created_at__gt=since),
    ):
        times += list(queryset.order_by("-created_at").values_list("created_at", flat=True)[:per_hour])
    if len(times) < per_hour:
        return
    times.sort(reverse=True)
    retry_after = max(1, math.ceil((times[per_hour - 1] + timedelta(hours=1) - now).total_seconds()))
    raise Refusal(
        f"You can post at most {per_hour} times an hour. {reason}".strip(),
        status_code=429, code="rate_limited",
        extra={"retry_after": retry_after, "limit": "moderation.posting_limit", "reason": reason},
        headers={"Retry-After": str(retry_after)},
    )


# --- Writes ---------------------------------------------------------------------------------------


def _clean_reason(reason) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": "Give the reason the user will be shown."})
    reason = reason.strip()
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationError({"reason": f"At most {MAX_REASON_CHARS} characters."})
    return reason


def sanction_create(
    *, actor, user, kind: str, reason: str, expires_at: datetime | None = None, duration: timedelta | None = None,
    posts_per_hour: int | None = None, metadata: dict | None = None,
) -> Sanction:
    """Silences, suspends or limits ``user`` until ``expires_at`` (or for ``duration``; neither: until
    lifted). A suspension ends the user's sessions and closes their sockets (4401) at once. The user is
    notified with the reason; the decision is recorded and audited."""
    from accounts import events as account_events

    from .audit import audit_record
    from .notify import user_notify

    if user.pk == actor.pk and actor.is_staff:
        raise ValidationError({"user": "You cannot sanction yourself."})
    require(actor, "moderation.sanction_user", user,
            message="Only a superuser sanctions staff." if actor.is_staff else "Only staff sanction users.")
    if kind not in SanctionKind.values:
        raise ValidationError({"kind": f"One of {', '.join(SanctionKind.values)}."})
    reason = _clean_reason(reason)
    now = timezone.now()
    if duration is not None:
        expires_at = now + duration
    if expires_at is not None and expires_at <= now:
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if kind == SanctionKind.POST_LIMIT:
        if not isinstance(posts_per_hour, int) or posts_per_hour < 1:
            raise ValidationError({"posts_per_hour": "A posting limit needs a number of posts per hour (at least 1)."})
    else:
        posts_per_hour = None
    with transaction.atomic():
        sanction = Sanction.objects.create(
            user=user, kind=kind, reason=reason, posts_per_hour=posts_per_hour, starts_at=now, expires_at=expires_at,
            created_by=actor, created_at=now,
        )
        ModerationDecision.objects.create(
            kind=DecisionKind.SANCTION, moderator=actor, target_user=user, reason=reason, created_at=now,
            metadata={"sanction_id": str(sanction.pk), "sanction_kind": kind, "posts_per_hour": posts_per_hour,
                      "expires_at": expires_at.isoformat() if expires_at else None, **(metadata or {})},
        )
        audit_record("moderation.sanction", actor=actor, resource=sanction, resource_type="sanction", resource_id=str(sanction.pk),
                     metadata={"user_id": str(user.pk), "kind": kind, "expires_at": expires_at.isoformat() if expires_at else None})
        standing_forget(user.pk)
        entry = {"expires_at": _ts(expires_at), "reason": reason}
        label = {SanctionKind.SILENCE: "You have been silenced", SanctionKind.SUSPEND: "Your account has been suspended",
                 SanctionKind.POST_LIMIT: f"Your posting is limited to {posts_per_hour} posts an hour"}[kind]
        user_notify(user=user, title=f"{label} {_until(entry)}", body=f"Reason: {reason}",
                    data={"sanction_id": str(sanction.pk), "kind": kind})
        if kind == SanctionKind.SUSPEND:
            _sessions_end(user)
            account_events.access_changed(user_id=user.pk)
    return sanction


def _sessions_end(user) -> None:
    """Ends every session of the user allauth knows of; their sockets close after commit."""
    from allauth.usersessions.models import UserSession

    from accounts.services import session_ended

    for session in UserSession.objects.filter(user=user):
        key = session.session_key
        session.end()
        session_ended(user_id=user.pk, session_key=key)


def sanction_lift(*, actor, sanction: Sanction, reason: str = "") -> Sanction:
    """Ends a sanction now (lifting twice is harmless); recorded as a ``lift`` decision."""
    from .audit import audit_record

    require(actor, "moderation.sanction_user", sanction.user, message="Only staff lift sanctions.")
    with transaction.atomic():
        now = timezone.now()
        lifted = Sanction.objects.filter(pk=sanction.pk, lifted_at__isnull=True).update(lifted_at=now, lifted_by=actor)
        sanction.refresh_from_db()
        if lifted:
            ModerationDecision.objects.create(
                kind=DecisionKind.LIFT, moderator=actor, target_user_id=sanction.user_id, reason=reason.strip(),
                created_at=now, metadata={"sanction_id": str(sanction.pk), "sanction_kind": sanction.kind},
            )
            audit_record("moderation.lift", actor=actor, resource=sanction, resource_type="sanction",
                         resource_id=str(sanction.pk), metadata={"user_id": str(sanction.user_id), "kind": sanction.kind})
            standing_forget(sanction.user_id)
    return sanction


def sanctions_tidy(*, now: datetime | None = None) -> int:
    """Drops the cached standing of users whose sanction expired in the last day (a beat task; expiry
    itself needs no job: every check reads the clock). Safe to run twice."""
    now = now or timezone.now()
    user_ids = set(Sanction.objects.filter(expires_at__lte=now, expires_at__gt=now - timedelta(days=1)).values_list("user_id", flat=True))
    for user_id in user_ids:
        cache.delete(_key(user_id))
    return len(user_ids)


def user_content_purge(*, actor, user, days: int, reason: str = "") -> dict:
    """Removes everything ``user`` posted in the last ``days`` days (chat messages, forum topics and
    replies) in one action, recorded as one ``purge`` decision."""
    from community.services import user_forum_content_purge, user_messages_purge

    from .audit import audit_record

    require(actor, "moderation.sanction_user", user, message="Only staff remove a user's content.")
    if not isinstance(days, int) or not 1 <= days <= 365:
        raise ValidationError({"days": "A number of days from 1 to 365."})
    since = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        messages = user_messages_purge(actor=actor, user=user, since=since)
        forum = user_forum_content_purge(actor=actor, user=user, since=since)
        counts = {"messages": messages, **forum}
        ModerationDecision.objects.create(
            kind=DecisionKind.PURGE, moderator=actor, target_user=user, reason=reason.strip(),
            metadata={"days": days, **counts},
        )
        audit_record("moderation.purge", actor=actor, resource=user, resource_type="user", resource_id=str(user.pk),
                     metadata={"days": days, **counts})
        standing_forget(user.pk)
    return counts
