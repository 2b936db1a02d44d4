from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import (
            bot_permissions,  # noqa: F401  (registers the bot-detection rules)
            bot_receivers,
            receivers,
            rules,  # noqa: F401  (its cache is dropped on every rule change)
        )

        bot_receivers.connect()
        receivers.connect()
