"""Demo channels and a little conversation, and forum topics with replies and solutions, for ``manage.py seed_demo``."""

from django.conf import settings
from django.test import override_settings

from . import services
from .models import Channel, ChannelMember, ChannelType

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


FORUMS = [
    ("help", "Forum", 10, "Questions and answers: how do I…? Mark the answer that solved it."),
    ("ideas", "Forum", 11, "Feature requests and what you would build with Agentwise."),
]

# (forum, author, title, content, tags, replies as (author, content), index of the solution or None, pinned)
TOPICS = [
    ("help", "moderator", "Read this first: how to ask a good question",
     "Say what you ran, what you expected and what happened. Paste the **exact** error in a code block:\n\n"
     "```\nagentwise report --project demo\n```\n\nThen tag the topic (`cli`, `api`, `billing`…).",
     ["meta"], [], None, True),
    ("help", "ada", "The CLI says my API key is invalid after I rotated it",
     "I revoked the old key and created a new one, but `agentwise report` still fails with *401 invalid key*.",
     ["cli", "api-keys"],
     [("linus", "Did you update `AGENTWISE_API_KEY` in the shell that runs the CLI? It wins over the config file."),
      ("ada", "That was it: an old export in my `.zshrc`. Thanks!"),
      ("grace", "Tip: `agentwise whoami` prints which key (by name) the CLI is using.")],
     0, False),
    ("help", "ken", "How do I keep websocket connections alive behind nginx?",
     "Live updates stop after about a minute when the dashboard runs behind our nginx proxy.",
     ["deploy", "websocket"],
     [("linus", "Raise `proxy_read_timeout` (the default is 60 s) and pass the `Upgrade` and `Connection` headers."),
      ("moderator", "The client pings every 25 seconds too, so 75 s is enough.")],
     0, False),
    ("help", "grace", "Budget alerts for a team project?",
     "Can the budget alert email go to everyone on the project, not only the owner?",
     ["billing"], [], None, False),
    ("ideas", "linus", "Compare two agent runs side by side",
     "A diff view of tokens, tool calls and duration between two executions would help tune prompts.",
     ["dashboard"],
     [("ada", "+1, especially for the tool calls."), ("ken", "And export the comparison as CSV, please.")],
     None, False),
]


def seed_forum(users: dict) -> int:
    """Creates the demo forums and their topics once (pinned guide, tags, replies, chosen solutions);
    returns the number of topics added. Through the services, so counters, the search index and
    notifications are what real use would leave."""
    if Channel.objects.filter(type=ChannelType.FORUM, name=FORUMS[0][0]).exists():
        return 0
    forums = {
        name: Channel.objects.create(name=name, category=category, position=position, description=description,
                                     type=ChannelType.FORUM)
        for name, category, position, description in FORUMS
    }
    staff = users["moderator"]
    with override_settings(COMMUNITY_POST_RATE={**settings.COMMUNITY_POST_RATE, "messages": 10_000}):
        for forum, author, title, content, tags, replies, solution, pinned in TOPICS:
            post = services.forum_post_create(actor=users[author], channel=forums[forum], title=title,
                                              content=content, tags=tags)
            made = [services.forum_reply_create(actor=users[who], post=post, content=text) for who, text in replies]
            if solution is not None:
                services.forum_solution_mark(actor=users[author], reply=made[solution])
            if pinned:
                services.forum_post_update(actor=staff, post=post, data={"is_pinned": True})
    return len(TOPICS)
