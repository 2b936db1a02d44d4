"""The one gate every user-written text passes before it is saved (docs/moderation.md).

``screen_post`` is for content others read in the community (chat messages, forum topics and replies):
the author's sanctions and new-user limits first (``moderation.sanctions``), then the content rules
(``moderation.rules``). ``screen_text`` is for names and profile fields (display name, bio, username,
project names): content rules only, and there a rule can refuse, censor or flag, never hide.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Screened:
    """What to store: ``text`` (masked where a censor rule matched), the content's ``state`` (a
    ``community.models.ModerationState``), and the rules to flag into the queue once it is saved
    (``flag_after_save``)."""

    text: str
    state: str = "visible"
    flags: tuple = field(default=())


def screen_post(*, actor, text: str, field: str = "content", surface: str) -> Screened:
    """Raises a Refusal (silenced: 403) or ValidationError({field: ...}) (a block rule, a new user's
    link); else returns what to store. ``surface`` names the place: "message", "forum_post", "forum_reply"."""
    from .rules import content_check
    from .sanctions import posting_check

    posting_check(actor=actor, text=text, field=field, surface=surface)
    return content_check(text=text, field=field, author=actor, surface=surface)


def screen_text(*, actor, text: str, field: str, surface: str, can_hide: bool = False) -> Screened:
    """Names and profile fields: rules only (block refuses, censor masks, warn flags; a rule that would
    hide refuses a username and flags anything else). ``can_hide=True``: a second field of content that
    ``screen_post`` screened already (a topic's title), with no second sanctions check."""
    from .rules import content_check

    return content_check(text=text, field=field, author=actor, surface=surface, can_hide=can_hide)


# Which state wins when two fields of one piece of content were screened (a topic's title and text).
_STATE_ORDER = ("visible", "pending", "shadowed", "hidden")


def screened_combine(*screened: Screened) -> Screened:
    """One state and one list of flags for several screened fields (the strictest state wins); ``text``
    is the first's."""
    state = max((s.state for s in screened), key=_STATE_ORDER.index)
    flags = tuple(f for s in screened for f in s.flags)
    return Screened(text=screened[0].text, state=state, flags=flags)


def state_after_edit(current: str, screened: Screened) -> str:
    """An edit can hide content, never bring it back: held, shadowed or hidden content stays so until
    staff decide."""
    return screened.state if current == "visible" else current


def flag_after_save(*, screened: Screened, content_type: str, content_id, author) -> None:
    """Queues the rules' flags (warn, require approval) for the saved content; call inside its transaction."""
    from .rules import flags_queue

    flags_queue(screened=screened, content_type=content_type, content_id=content_id, author=author)
