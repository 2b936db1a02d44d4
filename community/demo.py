"""Demo channels and a little conversation for ``manage.py seed_demo``."""

from django.conf import settings
from django.test import override_settings

from . import services
from .models import Channel, ChannelMember

CHANNELS = [
    ("general", "Community", 0, {}, "Say hi; talk about anything agent-related."),
    ("show-and-tell", "Community", 1, {}, "Share what your agents built this week."),
    ("prompt-engineering", "Craft", 2, {}, "Prompts, system messages and tool schemas that work."),
    ("announcements", "Community", -1, {"is_locked": True}, "News from the Agentwise team (staff post)."),
    ("moderators", "Staff", 0, {"is_private": True}, "Private: moderators only."),
]

CONVERSATION = [
    ("ada", "general", "Morning! Claude Code just fixed a flaky test that bit us for a month 🎉"),
    ("linus", "general", "Nice. Did it add a retry or find the race?"),
    ("ada", "general", "Found the race: two fixtures sharing a temp dir."),
    ("grace", "general", "Tokens saved per refactor is my favourite chart on the dashboard."),
    ("ken", "prompt-engineering", "Small agents, sharp prompts. Tell it the test command first."),
    ("moderator", "announcements", "Welcome to the Agentwise community! Be kind, share your runs."),
    ("linus", "show-and-tell", "My patch bot opened 14 PRs this week; 11 merged."),
]


def seed_community(users: dict) -> int:
    """Creates the demo channels and conversation once; returns the number of messages added."""
    if Channel.objects.filter(name="general").exists():
        return 0
    channels = {}
    for name, category, position, flags, description in CHANNELS:
        channels[name] = Channel.objects.create(
            name=name, category=category, position=position, description=description, **flags
        )
    ChannelMember.objects.create(channel=channels["moderators"], user=users["moderator"])
    added = 0
    with override_settings(COMMUNITY_POST_RATE={**settings.COMMUNITY_POST_RATE, "messages": 10_000}):
        for author, channel, content in CONVERSATION:
            message = services.message_post(actor=users[author], channel=channels[channel], content=content)
            added += 1
            if author == "ada" and "flaky" in content:
                services.reaction_toggle(actor=users["linus"], message=message, emoji="🎉")
                services.reaction_toggle(actor=users["grace"], message=message, emoji="👍")
                services.message_post(actor=users["ken"], channel=channels[channel], content="Which fixture?", parent=message)
                added += 1
    return added
