"""Reads for the community: visible channels with unread counts, history pages, threads, reactions; forum topics and replies."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import CharField, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from agentwise.access import can, get_visible
from agentwise.errors import NotFound

from .models import (
    Attachment,
    Channel,
    ChannelMember,
    ChannelState,
    ChannelType,
    ForumPost,
    ForumPostEdit,
    ForumPostTag,
    ForumReaction,
    ForumReply,
    Message,
    MessageEdit,
    ModerationState,
    Reaction,
    ReadMarker,
)

HISTORY_MAX = 100


def moderation_visible_q(user, *, author: str = "user", prefix: str = "") -> Q:
    """``permissions.content_visible`` as a query: visible content, plus for a signed-in user their own
    (shadowed, pending, hidden), and everything for staff. ``author``: the author field ("user" on
    messages, "author" on forum topics and replies); ``prefix`` reaches a related row ("post__")."""
    if user is not None and user.is_authenticated and user.is_staff:
        return Q()
    visible = Q(**{f"{prefix}moderation_state": ModerationState.VISIBLE})
    if user is not None and user.is_authenticated:
        visible |= Q(**{f"{prefix}{author}": user.pk})
    return visible


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
            moderation_visible_q(user),
            channel=OuterRef("pk"), parent__isnull=True, deleted_at__isnull=True, seq__gt=OuterRef("last_read_seq"),
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


def message_history(
    *, channel: Channel, viewer=None, before_seq=None, after_seq=None, limit: int = 50
) -> list[Message]:
    """Top-level messages ``viewer`` may see (``moderation_visible_q``; no viewer: visible ones only),
    newest first; ``before_seq``/``after_seq`` page backwards/forwards (exclusive).

    With both, the messages between the two, from the oldest on (the gap a client saw in ``seq``).
    """
    limit = max(1, min(int(limit), HISTORY_MAX))
    queryset = _with_authors(Message.objects.filter(moderation_visible_q(viewer), channel=channel, parent__isnull=True))
    if before_seq is not None:
        queryset = queryset.filter(seq__lt=before_seq)
    if after_seq is not None:
        # Catch-up after a reconnect: the oldest missed first, then returned newest-first like any page.
        page = list(queryset.filter(seq__gt=after_seq).order_by("seq")[:limit])
        return list(reversed(page))
    return list(queryset.order_by("-seq")[:limit])


def thread_messages(*, root: Message, viewer=None, after_seq=None, limit: int = 100) -> list[Message]:
    queryset = _with_authors(Message.objects.filter(moderation_visible_q(viewer), parent=root))
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
    return Message.objects.filter(moderation_visible_q(user), parent=root, seq__gt=marker, deleted_at__isnull=True).count()


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


# --- Forum ---------------------------------------------------------------------------------------

FORUM_ORDERINGS = {
    "activity": "Latest activity first (the newest reply, or the topic's creation when it has none).",
    "newest": "Newest topics first.",
    "top": "Most reactions plus views first.",
    "unanswered": "Topics with no reply yet, newest first.",
    "solved": "Topics with a solution, latest activity first.",
}


def _forum_posts_annotated(queryset) -> QuerySet[ForumPost]:
    """Each topic with ``last_activity_at``, ``reaction_total`` and ``solution_id``, so a page of them
    costs no query per topic."""
    reactions = (
        ForumReaction.objects.filter(post=OuterRef("pk")).order_by().values("post").annotate(n=Count("pk")).values("n")
    )
    solution = ForumReply.objects.filter(post=OuterRef("pk"), is_solution=True).values("pk")[:1]
    # The search vector is for the database's search alone: never read into Python.
    return queryset.defer("search_vector").select_related("channel", "author", "author__profile").annotate(
        last_activity_at=Coalesce("last_reply_at", "created_at"),
        reaction_total=Coalesce(Subquery(reactions), Value(0), output_field=IntegerField()),
        solution_id=Subquery(solution),
    )


def _forum_channels_readable_by(user) -> QuerySet[Channel]:
    """``permissions.can_read_forum_channel`` as a query: a signed-in member's channels, or for anyone
    else (anonymous, a crawler) the public forums."""
    if user.is_authenticated and user.is_active:
        return _channels_visible_to(user).filter(type=ChannelType.FORUM)
    return Channel.objects.filter(type=ChannelType.FORUM, is_private=False)


def forum_post_list(*, user, channel_id=None, tag: str | None = None, order: str = "activity") -> QuerySet[ForumPost]:
    """Topics in forum channels the user can see, pinned first, then in the chosen order.

    An unknown or invisible ``channel_id`` gives an empty list (it does not reveal the channel).
    """
    channels = _forum_channels_readable_by(user)
    queryset = _forum_posts_annotated(
        ForumPost.objects.filter(moderation_visible_q(user, author="author"), channel__in=channels.values("pk"))
    )
    if channel_id is not None:
        queryset = queryset.filter(channel_id=channel_id)
    if tag is not None:
        queryset = queryset.filter(pk__in=ForumPostTag.objects.filter(tag=tag.lower()).values("post_id"))
    if order == "unanswered":
        queryset = queryset.filter(reply_count=0)
    elif order == "solved":
        queryset = queryset.filter(solution_id__isnull=False)
    by = {
        "activity": ["-last_activity_at"],
        "newest": ["-created_at"],
        "top": [F("reaction_total") + F("view_count")],
        "unanswered": ["-created_at"],
        "solved": ["-last_activity_at"],
    }[order]
    if order == "top":
        by = [by[0].desc(), "-last_activity_at"]
    return queryset.order_by("-is_pinned", *by, "-pk")


def forum_post_search(*, user, q: str, channel_id=None, tag: str | None = None, order: str = "activity"):
    """Full-text search over the topics ``forum_post_list`` gives the user (same visibility, same
    filters; ``order`` only filters, unanswered or solved): a topic matches by its title, text or live
    replies. Best first, paginated like a queryset; each topic of a slice has ``search_snippet``
    (safe HTML) and ``search_rank``. See ``community.search``."""
    from .search import forum_matches

    return forum_matches(forum_post_list(user=user, channel_id=channel_id, tag=tag, order=order), query=q)


def forum_post_get_visible(*, user, post_id) -> ForumPost:
    """Raises NotFound for unknown and invisible alike (a private forum's topics do not leak)."""
    post = get_visible(_forum_posts_annotated(ForumPost.objects.all()), pk=post_id)
    if not can(user, "community.view_forum_post", post):
        raise NotFound()
    return post


def forum_reply_get_visible(*, user, reply_id, deleted_ok: bool = False) -> ForumReply:
    """A reply the user can see; a deleted one only as a tombstone (``deleted_ok``)."""
    reply = get_visible(ForumReply.objects.select_related("post", "post__channel", "author", "author__profile"), pk=reply_id)
    if not can(user, "community.view_forum_reply" if deleted_ok else "community.read_forum_reply", reply):
        raise NotFound()
    return reply


def forum_replies(*, post: ForumPost, viewer=None) -> QuerySet[ForumReply]:
    """A topic's replies ``viewer`` may see (no viewer: visible ones only), oldest first, deleted ones
    included (shown as tombstones)."""
    return (
        ForumReply.objects.filter(moderation_visible_q(viewer, author="author"), post=post)
        .select_related("author", "author__profile")
        .order_by("created_at", "pk")
    )


def forum_reaction_summaries(*, viewer, posts=(), replies=()) -> dict:
    """``{id: {emoji: {"count": n, "me": bool}}}`` for topics and replies, in at most one query each."""
    summaries: dict = {}
    mine = Count("pk", filter=Q(user_id=viewer.pk)) if viewer.is_authenticated else Value(0)
    for field, objects in (("post_id", posts), ("reply_id", replies)):
        ids = [o.pk for o in objects]
        summaries.update({pk: {} for pk in ids})
        if not ids:
            continue
        rows = (
            ForumReaction.objects.filter(**{f"{field}__in": ids})
            .values(field, "emoji")
            .annotate(count=Count("pk"), mine=mine)
            .order_by(field, "emoji")
        )
        for row in rows:
            summaries[row[field]][row["emoji"]] = {"count": row["count"], "me": bool(row["mine"])}
    return summaries


def forum_sitemap_topics() -> QuerySet[ForumPost]:
    """Topics anyone may read (public forums), most recently active first, with only what a sitemap
    entry needs; the sitemap paginates the query."""
    return (
        ForumPost.objects.filter(
            moderation_visible_q(None), channel__in=_forum_channels_readable_by(AnonymousUser()).values("pk")
        )
        .annotate(last_activity_at=Coalesce("last_reply_at", "created_at"))
        .order_by("-last_activity_at", "-pk")
        .only("pk", "title", "created_at", "last_reply_at")
    )


def forum_channels_prefill_membership(*, user, channels) -> None:
    """Answers the viewer's membership of these channels in one query, so checking rules on a page of
    topics from several private forums costs no query per forum."""
    from .permissions import prefill_membership

    private = [c for c in channels if c.is_private]
    if not private or not user.is_authenticated:
        return
    member_of = set(ChannelMember.objects.filter(user=user, channel__in=[c.pk for c in private]).values_list("channel_id", flat=True))
    for channel in private:
        prefill_membership(channel, {user.pk: channel.pk in member_of})


def forum_post_edit_history(*, post: ForumPost) -> QuerySet[ForumPostEdit]:
    return post.edits.select_related("edited_by").order_by("edited_at", "pk")


def forum_channel_for_new_post(*, user, channel_id) -> Channel:
    """The channel a new topic names in its body: unknown and invisible alike are a field error on
    ``channel`` (a body field, not the URL), worded so a private forum does not leak."""
    from django.core.exceptions import ValidationError

    try:
        return channel_get_visible(user=user, channel_id=channel_id)
    except NotFound:
        raise ValidationError({"channel": "No forum channel you can see has this id."}) from None


# --- Forum pages -----------------------------------------------------------------------------------


def forum_channel_list_visible_to(*, user) -> QuerySet[Channel]:
    """Forum channels the user can read, in sidebar order, each with ``topic_count``."""
    topics = (
        ForumPost.objects.filter(moderation_visible_q(user, author="author"), channel=OuterRef("pk"))
        .order_by().values("channel").annotate(n=Count("pk")).values("n")
    )
    return (
        _forum_channels_readable_by(user)
        .annotate(topic_count=Coalesce(Subquery(topics), Value(0), output_field=IntegerField()))
        .order_by("category", "position", "name")
    )


def forum_channel_get_visible(*, user, channel_id) -> Channel:
    """A forum channel the user can read; a chat channel, unknown or invisible one is NotFound alike."""
    channel = get_visible(Channel.objects.all(), pk=channel_id)
    if channel.type != ChannelType.FORUM or not can(user, "community.read_forum", channel):
        raise NotFound()
    return channel


def forum_tag_counts(*, user) -> QuerySet:
    """``[{"tag", "topics"}]``: each tag with the number of topics carrying it that the user can see, most used first."""
    visible = forum_post_list(user=user).order_by().values("pk")
    return (
        ForumPostTag.objects.filter(post__in=visible)
        .values("tag")
        .annotate(topics=Count("post", distinct=True))
        .order_by("-topics", "tag")
    )


def forum_reply_position(*, reply: ForumReply, viewer=None) -> int:
    """How many replies come before this one in ``forum_replies`` order for ``viewer`` (to find its page)."""
    return ForumReply.objects.filter(moderation_visible_q(viewer, author="author"), post_id=reply.post_id).filter(
        Q(created_at__lt=reply.created_at) | Q(created_at=reply.created_at, pk__lt=reply.pk)
    ).count()
