"""The admin is the moderation dashboard (docs/moderation.md): one module per part, registered here."""

from . import audit, bots, queue, rules  # noqa: F401  (each registers its ModelAdmins)
