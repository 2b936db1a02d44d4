from django.apps import AppConfig


class AgentwiseConfig(AppConfig):
    """The project package as an app: site-wide templates tags and management commands (seed_demo)."""

    name = "agentwise"
    verbose_name = "Agentwise"
