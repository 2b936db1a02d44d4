from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class AgentwiseConfig(AppConfig):
    """The project package as an app: site-wide templates tags and management commands (seed_demo)."""

    name = "agentwise"
    verbose_name = "Agentwise"


class AgentwiseAdminConfig(AdminConfig):
    """Django's admin with our site: the index is the moderation dashboard (moderation/admin_site.py)."""

    default_site = "moderation.admin_site.ModerationAdminSite"
