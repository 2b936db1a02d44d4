from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = "Community"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import permissions  # noqa: F401  (registers the community rules)
