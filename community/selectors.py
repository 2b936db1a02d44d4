"""Reads for the community: visible channels with unread counts, history pages, threads, reactions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .models import Channel, ChannelMember, ChannelState, Message, MessageEdit, Reaction, ReadMarker

HISTORY_MAX = 100


def channel_list_visible_to(*, user) -> QuerySet[Channel]:
    """Channels the user may read, in sidebar order, each with ``unread`` (top-level messages) and ``is_member``."""
    membership = ChannelMember.objects.filter(channel=OuterRef("pk"), user=user)
    queryset = Channel.objects.annotate(is_member=Exists(membership))
    if not user.is_staff:
        queryset = queryset.filter(Q(is_private=False) | Q(is_member=True))
    marker = ReadMarker.objects.filter(user=user, channel=OuterRef("pk"), thread__isnull=True).values("last_read_seq")[:1]
    queryset = queryset.annotate(last_read_seq=Coalesce(Subquery(marker), Value(0), output_field=IntegerField()))
    unread = (
        Message.objects.filter(
            channel=OuterRef("pk"), parent__isnull=True, deleted_at__isnull=True, seq__gt=OuterRef("last_read_seq")
        )
        .order_by()
        .values("channel")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(unread=Coalesce(Subquery(unread), Value(0), output_field=IntegerField())).order_by(
        "category", "position", "name"
    )


def channel_get_visible(*, user, channel_id) -> Channel:
    """Raises Channel.DoesNotExist for unknown and invisible alike."""
    try:
        channel = Channel.objects.get(pk=channel_id)
    except (ValueError, TypeError, ValidationError):
        raise Channel.DoesNotExist from None
    if not user.has_perm("community.view_channel", channel):
        raise Channel.DoesNotExist
    return channel


def message_get_visible(*, user, message_id, deleted_ok: bool = True) -> Message:
    """A message the user can see; ``deleted_ok=False`` for the message itself (gone once deleted)
    rather than its place in a list or a thread (kept as a tombstone)."""
    try:
        message = Message.objects.select_related("channel", "user", "user__profile").get(pk=message_id)
    except (ValueError, TypeError, ValidationError):
        raise Message.DoesNotExist from None
    if not user.has_perm("community.view_message" if deleted_ok else "community.read_message", message):
        raise Message.DoesNotExist
    return message


def _with_authors(queryset):
    return queryset.select_related("user", "user__profile")


def message_history(*, channel: Channel, before_seq=None, after_seq=None, limit: int = 50) -> list[Message]:
    """Top-level messages, newest first; ``before_seq``/``after_seq`` page backwards/forwards (exclusive).

    With both, the messages between the two, from the oldest on (the gap a client saw in ``seq``).
    """
    limit = max(1, min(int(limit), HISTORY_MAX))
    queryset = _with_authors(Message.objects.filter(channel=channel, parent__isnull=True))
    if before_seq is not None:
        queryset = queryset.filter(seq__lt=before_seq)
    if after_seq is not None:
        # Catch-up after a reconnect: the oldest missed first, then returned newest-first like any page.
        page = list(queryset.filter(seq__gt=after_seq).order_by("seq")[:limit])
        return list(reversed(page))
    return list(queryset.order_by("-seq")[:limit])


def thread_messages(*, root: Message, after_seq=None, limit: int = 100) -> list[Message]:
    queryset = _with_authors(Message.objects.filter(parent=root))
    if after_seq is not None:
        queryset = queryset.filter(seq__gt=after_seq)
    return list(queryset.order_by("seq")[: max(1, min(int(limit), HISTORY_MAX))])


def reaction_summaries(*, messages, viewer) -> dict:
    """``{message_id: {emoji: {"count": n, "me": bool}}}`` for many messages in one query."""
    ids = [m.pk for m in messages]
    summaries: dict = {pk: {} for pk in ids}
    if not ids:
        return summaries
    rows = (
        Reaction.objects.filter(message_id__in=ids)
        .values("message_id", "emoji")
        .annotate(count=Count("pk"), mine=Count("pk", filter=Q(user=viewer)))
        .order_by("message_id", "emoji")
    )
    for row in rows:
        summaries[row["message_id"]][row["emoji"]] = {"count": row["count"], "me": bool(row["mine"])}
    return summaries


def message_edit_history(*, message: Message) -> QuerySet[MessageEdit]:
    return message.edits.select_related("edited_by").order_by("edited_at")


def thread_unread(*, user, root: Message) -> int:
    marker = ReadMarker.objects.filter(user=user, thread=root).values_list("last_read_seq", flat=True).first() or 0
    return Message.objects.filter(parent=root, seq__gt=marker, deleted_at__isnull=True).count()


def channel_is_open(channel: Channel) -> bool:
    return channel.state == ChannelState.OPEN
