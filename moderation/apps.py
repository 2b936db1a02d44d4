from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import (
            bot_permissions,  # noqa: F401  (registers the bot-detection rules)
            bot_receivers,
            permissions,  # noqa: F401  (registers the moderation rules)
            receivers,
            rules,  # noqa: F401  (its cache is dropped on every rule change)
        )

        bot_receivers.connect()
        receivers.connect()
        user_logged_in.connect(_standing_warm, dispatch_uid="moderation.standing_warm")


def _standing_warm(sender, request, user, **kwargs):
    """A user who just signed in is about to make requests: their standing is read now, not on the first page."""
    from .sanctions import standing_warm

    standing_warm(user.pk)
