from django.urls import path

from . import views

urlpatterns = [
    path("billing/checkout/", views.CheckoutView.as_view(), name="billing_checkout_api"),
    path("billing/portal/", views.PortalView.as_view(), name="billing_portal_api"),
]
