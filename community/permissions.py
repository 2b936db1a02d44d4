"""Who may do what in the community (the seed's messages policies, plus private/locked channels).

Authenticated users read public channels; private channels only their members (others: 404);
posting as yourself only; locked or read-only channels: staff only; archived channels: nobody posts;
edit/delete your own message (staff: any). Answered everywhere through ``user.has_perm(...)``.
"""

from __future__ import annotations

import rules

from .models import Channel, ChannelMember, ChannelState

_MEMBER_CACHE = "_member_ids"


def is_channel_member(user, channel: Channel) -> bool:
    """Membership of a private channel, cached on the instance (selectors can pre-fill it)."""
    cache = channel.__dict__.setdefault(_MEMBER_CACHE, {})
    if user.pk not in cache:
        cache[user.pk] = ChannelMember.objects.filter(channel=channel, user=user).exists()
    return cache[user.pk]


@rules.predicate
def can_see_channel(user, channel) -> bool:
    if channel is None or not user.is_authenticated:
        return False
    if not channel.is_private or user.is_staff:
        return True
    return is_channel_member(user, channel)


@rules.predicate
def channel_accepts_posts(user, channel) -> bool:
    if channel is None or channel.state == ChannelState.ARCHIVED:
        return False
    if channel.is_locked or channel.state == ChannelState.READ_ONLY:
        return user.is_staff
    return True


@rules.predicate
def is_author(user, message) -> bool:
    return message is not None and user.is_authenticated and message.user_id == user.pk


@rules.predicate
def message_is_live(user, message) -> bool:
    return message is not None and message.deleted_at is None


@rules.predicate
def can_see_message(user, message) -> bool:
    return message is not None and can_see_channel(user, message.channel)


@rules.predicate
def message_channel_not_archived(user, message) -> bool:
    return message is not None and message.channel.state != ChannelState.ARCHIVED


rules.add_perm("community.view_channel", can_see_channel)
rules.add_perm("community.post_message", can_see_channel & channel_accepts_posts)
rules.add_perm("community.view_message", can_see_message)  # deleted ones too, as a tombstone in lists
rules.add_perm("community.read_message", can_see_message & message_is_live)  # the message itself and its edits
rules.add_perm(
    "community.change_message", can_see_message & message_is_live & message_channel_not_archived & (is_author | rules.is_staff)
)
rules.add_perm("community.delete_message", can_see_message & message_is_live & (is_author | rules.is_staff))
rules.add_perm("community.react_message", can_see_message & message_is_live & message_channel_not_archived)
rules.add_perm("community.manage_channel", rules.is_staff)
rules.add_perm("community.purge_user_messages", rules.is_staff)

