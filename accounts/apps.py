from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from agentwise.api import schema  # noqa: F401  (registers the API-key OpenAPI scheme)

        from . import (
            permissions,  # noqa: F401  (registers the accounts rules)
            receivers,
        )

        receivers.connect()
