from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings
        from django.core.signals import setting_changed

        from . import webhooks  # noqa: F401  (connects the dj-stripe webhook receivers)

        _point_stripe_at(settings.STRIPE_API_BASE)
        setting_changed.connect(_on_setting_changed, dispatch_uid="billing.stripe_api_base")


def _point_stripe_at(api_base: str) -> None:
    import stripe

    stripe.api_base = api_base.rstrip("/")


def _on_setting_changed(*, setting, value, **kwargs):
    if setting == "STRIPE_API_BASE":
        _point_stripe_at(value or "https://api.stripe.com")
