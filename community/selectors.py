"""Reads for the community: visible channels with unread counts, history pages, threads, reactions."""

from __future__ import annotations

from django.db.models import CharField, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from agentwise.access import can, get_visible
from agentwise.errors import NotFound

from .models import (
    Attachment,
    Channel,
    ChannelMember,
    ChannelState,
    Message,
    MessageEdit,
    Reaction,
    ReadMarker,
)

HISTORY_MAX = 100


def _channels_visible_to(user) -> QuerySet[Channel]:
    """The query form of ``community.view_channel``: public channels, private ones you are a member
    of; staff see all. Each row has ``is_member``."""
    if not user.is_authenticated or not user.is_active:
        return Channel.objects.none()
    membership = ChannelMember.objects.filter(channel=OuterRef("pk"), user=user)
    queryset = Channel.objects.annotate(is_member=Exists(membership), viewer_id=Value(str(user.pk), output_field=CharField()))
    if not user.is_staff:
        queryset = queryset.filter(Q(is_private=False) | Q(is_member=True))
    return queryset


def channel_list_visible_to(*, user) -> QuerySet[Channel]:
    """Channels the user may read, in sidebar order, each with ``unread`` (top-level messages) and ``is_member``."""
    queryset = _channels_visible_to(user)
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
    """Raises NotFound for unknown and invisible alike (a private channel does not leak)."""
    channel = get_visible(Channel.objects.all(), pk=channel_id)
    if not can(user, "community.view_channel", channel):
        raise NotFound()
    return channel


def channel_ids_visible(*, user, channel_ids) -> set[str]:
    """Which of these channels the user may still read, in one query (sockets re-check their joins)."""
    ids = [str(c) for c in channel_ids]
    if not ids:
        return set()
    return {str(pk) for pk in _channels_visible_to(user).filter(pk__in=ids).values_list("pk", flat=True)}


def message_get_visible(*, user, message_id, deleted_ok: bool = True) -> Message:
    """A message the user can see; ``deleted_ok=False`` for the message itself (gone once deleted)
    rather than its place in a list or a thread (kept as a tombstone). Raises NotFound otherwise."""
    message = get_visible(Message.objects.select_related("channel", "user", "user__profile"), pk=message_id)
    if not can(user, "community.view_message" if deleted_ok else "community.read_message", message):
        raise NotFound()
    return message


def _with_authors(queryset):
    return queryset.select_related("user", "user__profile", "channel")


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


def attachment_get_visible(*, user, attachment_id) -> Attachment:
    """A file the user may download: attached to a live message they can read, or their own upload
    not yet attached. A deleted message's files are gone for everyone, staff included."""
    attachment = get_visible(Attachment.objects.select_related("message", "message__channel"), pk=attachment_id)
    if attachment.message is None:
        if not user.is_authenticated or attachment.uploader_id != user.pk:
            raise NotFound()
    elif not can(user, "community.read_message", attachment.message):
        raise NotFound()
    return attachment


def channel_members(*, channel: Channel) -> QuerySet[ChannelMember]:
    return channel.members.select_related("user", "user__profile", "added_by").order_by("created_at", "pk")


def channel_member_get(*, channel: Channel, user_id) -> ChannelMember:
    return get_visible(channel_members(channel=channel), user_id=user_id)


def user_get_by_handle(*, username: str):
    """An active user by handle (case-insensitive); a field error when there is none (handles are public)."""
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError

    user = get_user_model().objects.filter(username__iexact=username, is_active=True).first()
    if user is None:
        raise ValidationError({"username": "No Agentwise user has this username."})
    return user


def message_seq_in_channel(*, channel: Channel, message_id) -> int | None:
    """The sequence number of a message of this channel (a history cursor), or None."""
    from django.core.exceptions import ValidationError

    try:
        return Message.objects.filter(channel=channel, pk=message_id).values_list("seq", flat=True).first()
    except (ValueError, TypeError, ValidationError):
        return None


def channels_lost(*, joins) -> list[set[str]]:
    """For each ``(user_id, channel_ids)``, the channels that user may no longer read — asked of the one
    rule (``community.view_channel``) with its membership lookups answered in bulk, so any number of
    sockets costs at most three queries."""
    from django.contrib.auth import get_user_model

    from .permissions import prefill_membership

    all_ids = {str(c) for _, channel_ids in joins for c in channel_ids}
    if not all_ids:
        return [set() for _ in joins]
    channels = {str(c.pk): c for c in Channel.objects.filter(pk__in=all_ids)}
    users = get_user_model().objects.in_bulk({user_id for user_id, _ in joins})
    private = [c.pk for c in channels.values() if c.is_private]
    members = set()
    if private:
        members = set(ChannelMember.objects.filter(channel_id__in=private, user_id__in=list(users)).values_list("channel_id", "user_id"))
    for channel in channels.values():
        prefill_membership(channel, {user_pk: (channel.pk, user_pk) in members for user_pk in users})
    lost = []
    for user_id, channel_ids in joins:
        user = users.get(get_user_model()._meta.pk.to_python(user_id))
        lost.append({
            str(channel_id) for channel_id in channel_ids
            if user is None or str(channel_id) not in channels or not can(user, "community.view_channel", channels[str(channel_id)])
        })
    return lost
