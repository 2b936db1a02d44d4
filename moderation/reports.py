"""The report queue (docs/reports-and-sanctions.md): members report content; staff approve (dismiss),
remove, or remove and sanction; every outcome is a ``ModerationDecision`` and an audit entry."""

from __future__ import annotations

from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agentwise.access import require
from agentwise.ratelimits import rate_limit_hit

from . import selectors
from .audit import audit_record
from .models import (
    REPORTABLE_TYPES,
    DecisionKind,
    ItemSource,
    ItemStatus,
    ModerationDecision,
    ModerationItem,
    ReportedType,
)
from .selectors import ReportedContent

MAX_REASON_CHARS = 255
MAX_NOTES_CHARS = 5000
# Set while the queue removes content, so the community service's own record (removal_record) stands aside.
_resolving: ContextVar[bool] = ContextVar("moderation_resolving", default=False)


def _clean_reason(reason) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": "Say why you are reporting this."})
    reason = reason.replace("\x00", "").strip()
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationError({"reason": f"At most {MAX_REASON_CHARS} characters (this one has {len(reason)})."})
    return reason


def _content_model(content_type: str):
    from community.models import ForumPost, ForumReply, Message

    return {ReportedType.MESSAGE: Message, ReportedType.FORUM_POST: ForumPost, ReportedType.FORUM_REPLY: ForumReply}.get(content_type)


def report_create(*, actor, content_type: str, content_id, reason: str) -> tuple[ModerationItem, bool]:
    """Files ``actor``'s report on a message, topic, reply or profile they can see; returns (report, created).

    A reporter has one open report per item: a repeat returns the open one (also when a concurrent
    repeat won the insert). When ``MODERATION_AUTO_HIDE_REPORTS`` distinct members have open reports on
    it, the content is hidden until reviewed (a ``hide`` decision).
    """
    require(actor, "moderation.report_content", message="Sign in to report content.")
    if content_type not in REPORTABLE_TYPES:
        raise ValidationError({"content_type": f"One of {', '.join(REPORTABLE_TYPES)}."})
    reason = _clean_reason(reason)
    content = selectors.reported_content_get(user=actor, content_type=content_type, content_id=content_id)
    if content.author is not None and content.author.pk == actor.pk:
        raise ValidationError({"content_id": "You cannot report your own content."})
    existing = selectors.report_open_for(reporter=actor, content_type=content_type, content_id=content.content_id)
    if existing is not None:
        return existing, False
    rate_limit_hit("moderation.report", actor.pk)
    try:
        with transaction.atomic():
            _content_lock(content)  # serialises reports on one item: the N-th reporter is counted once
            item = ModerationItem.objects.create(
                content_type=content_type, content_id=content.content_id, content_author=content.author,
                content_excerpt=content.excerpt, source=ItemSource.REPORT, reported_by=actor, reason=reason,
            )
            _auto_hide(content)
    except IntegrityError:
        existing = selectors.report_open_for(reporter=actor, content_type=content_type, content_id=content.content_id)
        if existing is None:
            raise
        return existing, False
    return item, True


def _content_lock(content: ReportedContent) -> None:
    """Locks the reported row, in the community services' order (a reply's topic before the reply), so a
    report racing a reply's edit or an auto-hide's recount cannot deadlock."""
    from community.models import ForumPost

    model = _content_model(content.content_type)
    if model is None:
        return
    if content.content_type == ReportedType.FORUM_REPLY:
        list(ForumPost.objects.select_for_update().filter(pk=content.obj.post_id).values_list("pk", flat=True))
    list(model.objects.select_for_update().filter(pk=content.content_id).values_list("pk", flat=True))


def _trusted_reporters(content: ReportedContent) -> int:
    """The distinct members with an open report on the item who are past the new-user limits: three fresh
    accounts report into the queue like anyone, but cannot hide someone's content by themselves."""
    from django.contrib.auth import get_user_model

    from .sanctions import is_new_user_limited

    ids = ModerationItem.objects.filter(content_type=content.content_type, content_id=str(content.content_id),
                                        status=ItemStatus.PENDING, reported_by__isnull=False).values("reported_by")
    return sum(not is_new_user_limited(user) for user in get_user_model().objects.filter(pk__in=ids))


def _auto_hide(content: ReportedContent) -> None:
    """Hides reported content once enough distinct members past the new-user limits report it (call under
    the content's row lock), through ``community.services.content_moderation_state_set``: counters,
    search index and frames follow."""
    from community import services as community
    from community.models import ModerationState

    if not content.has_state:
        return  # a profile has no visibility state: it waits in the queue
    if selectors.distinct_open_reporters(content_type=content.content_type,
                                         content_id=content.content_id) < settings.MODERATION_AUTO_HIDE_REPORTS:
        return  # not enough reporters of any standing: no need to look at theirs
    reporters = _trusted_reporters(content)
    if reporters < settings.MODERATION_AUTO_HIDE_REPORTS:
        return
    if not community.content_moderation_state_set(actor=None, obj=content.obj, state=ModerationState.HIDDEN,
                                                  from_states={ModerationState.VISIBLE}):
        return  # already hidden (or held, or shadowed): nothing more to hide
    pending = ModerationItem.objects.filter(content_type=content.content_type, content_id=content.content_id,
                                            status=ItemStatus.PENDING)
    first = pending.order_by("created_at").values_list("created_at", flat=True).first()
    ModerationDecision.objects.create(
        kind=DecisionKind.HIDE, target_user=content.author, content_type=content.content_type, content_id=content.content_id,
        reason=f"Reported by {reporters} members", report_count=pending.count(), first_reported_at=first,
    )
    audit_record("moderation.hide", actor=None, resource_type=content.content_type, resource_id=content.content_id,
                 metadata={"reporters": reporters})


# --- Staff: working the queue ------------------------------------------------------------------------


def _clean_notes(notes) -> str:
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES_CHARS:
        raise ValidationError({"notes": f"At most {MAX_NOTES_CHARS} characters."})
    return notes


def item_note_add(*, actor, content_type: str, content_id, notes: str) -> int:
    """Adds a moderator's note to every pending report of an item; returns how many."""
    require(actor, "moderation.moderate_content", message="Only staff moderate content.")
    notes = _clean_notes(notes)
    if not notes:
        raise ValidationError({"notes": "Write a note."})
    with transaction.atomic():
        items = list(ModerationItem.objects.select_for_update().filter(
            content_type=content_type, content_id=str(content_id), status=ItemStatus.PENDING))
        for item in items:
            stamp = f"[{timezone.now():%Y-%m-%d %H:%M} @{actor.username}] {notes}"
            item.moderation_notes = f"{item.moderation_notes}\n{stamp}".strip()
            item.save(update_fields=["moderation_notes"])
    return len(items)


def _content_remove(*, actor, content: ReportedContent) -> bool:
    """Soft deletes through the community services (a topic is deleted with its replies); a profile loses
    its display name and bio. False when it was already gone."""
    from accounts.services import profile_update
    from community import services as community

    obj = content.obj
    if content.content_type == ReportedType.MESSAGE:
        if obj.deleted_at is not None:
            return False
        community.message_delete(actor=actor, message=obj)
    elif content.content_type == ReportedType.FORUM_POST:
        community.forum_post_delete(actor=actor, post=obj)
    elif content.content_type == ReportedType.FORUM_REPLY:
        if obj.deleted_at is not None:
            return False
        community.forum_reply_delete(actor=actor, reply=obj)
    else:
        profile_update(actor=actor, profile=obj, data={"full_name": "", "bio": ""})
    return True


def _state_restore(*, actor, content: ReportedContent | None) -> bool:
    """Approving shows the content: hidden by reports, or held by a ``require_approval`` rule (``pending``).
    A shadowban's ``shadowed`` stays (it is the author's standing, not this item's). Through
    ``community.services.content_moderation_state_set``: counters, search index and frames follow."""
    from community import services as community
    from community.models import ModerationState

    if content is None or not content.has_state:
        return False
    return community.content_moderation_state_set(
        actor=actor, obj=content.obj, state=ModerationState.VISIBLE,
        from_states={ModerationState.HIDDEN, ModerationState.PENDING})


def item_resolve(
    *, actor, content_type: str, content_id, outcome: str, reason: str = "", notes: str = "", sanction: dict | None = None,
) -> ModerationDecision:
    """Resolves every pending report of one item as ``approve`` (dismissed; hidden content shown again) or
    ``remove`` (soft deleted, author notified), optionally sanctioning the author too (``sanction``: the
    keyword arguments of ``sanctions.sanction_create`` but ``actor`` and ``user``). Records ``resolved_at``,
    the moderator, one decision (reason, report count, first report time) and an audit entry."""
    from .notify import user_notify
    from .sanctions import sanction_create, standing_forget

    require(actor, "moderation.moderate_content", message="Only staff moderate content.")
    if outcome not in ("approve", "remove"):
        raise ValidationError({"outcome": "approve or remove."})
    notes = _clean_notes(notes)
    reason = (reason or "").strip()
    content_id = str(content_id)
    with transaction.atomic():
        items = list(ModerationItem.objects.select_for_update().filter(
            content_type=content_type, content_id=content_id, status=ItemStatus.PENDING).order_by("created_at"))
        if not items:
            raise ValidationError({"item": "This item has no pending reports (already resolved?)."})
        content = selectors.content_for_staff(content_type=content_type, content_id=content_id)
        author = content.author if content is not None else items[0].content_author
        now = timezone.now()
        removed = False
        if outcome == "remove":
            token = _resolving.set(True)
            try:
                removed = content is not None and _content_remove(actor=actor, content=content)
            finally:
                _resolving.reset(token)
            kind, status = DecisionKind.REMOVE, ItemStatus.REMOVED
        else:
            _state_restore(actor=actor, content=content)
            kind, status = DecisionKind.APPROVE, ItemStatus.APPROVED
        for item in items:
            item.status, item.moderator, item.resolved_at = status, actor, now
            if notes:
                item.moderation_notes = f"{item.moderation_notes}\n{notes}".strip()
        ModerationItem.objects.bulk_update(items, ["status", "moderator", "resolved_at", "moderation_notes"])
        rule = next((item.rule for item in items if item.rule_id), None)
        decision = ModerationDecision.objects.create(
            kind=kind, moderator=actor, target_user=author, content_type=content_type, content_id=content_id,
            rule=rule, reason=reason, report_count=len(items), first_reported_at=items[0].created_at, created_at=now,
            metadata={"notes": notes, "reasons": sorted({i.reason for i in items if i.reason}), "removed": removed},
        )
        audit_record(f"moderation.{kind}", actor=actor, resource=decision, resource_type=content_type, resource_id=content_id,
                     metadata={"decision_id": str(decision.pk), "reports": len(items), "reason": reason})
        if outcome == "remove" and author is not None:
            standing_forget(author.pk)
            what = dict(ReportedType.choices)[content_type].lower()
            user_notify(user=author, title=f"A moderator removed your {what}",
                        body=f"Reason: {reason}" if reason else "It broke the community rules.",
                        data={"content_type": content_type, "content_id": content_id, "decision_id": str(decision.pk)})
        if sanction and author is not None:
            sanction_create(actor=actor, user=author, metadata={"decision_id": str(decision.pk)}, **sanction)
    return decision


def removal_record(*, actor, content_type: str, content_id, author) -> ModerationDecision | None:
    """Staff removing someone else's content outside the queue (the API, a socket, a page, the community
    admin): one ``remove`` decision and audit entry, and the item's pending reports resolved as removed.
    Called by the community services inside the removal's transaction; nothing for an author's own removal."""
    from .sanctions import standing_forget

    if _resolving.get() or actor is None or not actor.is_staff or (author is not None and author.pk == actor.pk):
        return None
    content_id = str(content_id)
    now = timezone.now()
    items = list(ModerationItem.objects.select_for_update().filter(
        content_type=content_type, content_id=content_id, status=ItemStatus.PENDING).order_by("created_at"))
    for item in items:
        item.status, item.moderator, item.resolved_at = ItemStatus.REMOVED, actor, now
    ModerationItem.objects.bulk_update(items, ["status", "moderator", "resolved_at"])
    decision = ModerationDecision.objects.create(
        kind=DecisionKind.REMOVE, moderator=actor, target_user=author, content_type=content_type, content_id=content_id,
        reason="Removed directly by a moderator", report_count=len(items),
        first_reported_at=items[0].created_at if items else None, created_at=now, metadata={"direct": True},
    )
    audit_record("moderation.remove", actor=actor, resource=decision, resource_type=content_type, resource_id=content_id,
                 metadata={"decision_id": str(decision.pk), "reports": len(items), "direct": True})
    if author is not None:
        standing_forget(author.pk)
    return decision


def reports_forget_user(*, user, pseudonym: str, remove_content: bool) -> int:
    """The report queue and decisions after an account is deleted (``accounts.deletion``): reports and
    decisions about its profile name the pseudonym and keep no copy of the profile's text; with
    ``remove_content`` the excerpts of everything it wrote go too. The user links go with the user row."""
    from .models import ModerationDecision, ModerationItem, ReportedType

    user_id = str(user.pk)
    changed = ModerationItem.objects.filter(content_type=ReportedType.PROFILE, content_id=user_id).update(
        content_id=pseudonym, content_excerpt=""
    )
    changed += ModerationDecision.objects.filter(content_type=ReportedType.PROFILE, content_id=user_id).update(
        content_id=pseudonym
    )
    if remove_content:
        changed += ModerationItem.objects.filter(content_author=user).update(content_excerpt="")
    return changed
