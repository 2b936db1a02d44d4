from django.urls import path

from . import views

# Mounted at the site root: the pricing page, the account's billing pages, and Stripe's webhook endpoint.
urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("account/billing/", views.account_billing, name="account_billing"),
    path("account/billing/checkout/", views.checkout_redirect, name="billing_checkout"),
    path("account/billing/portal/", views.portal_redirect, name="billing_portal"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
