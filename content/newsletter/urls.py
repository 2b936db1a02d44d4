"""/newsletter/ pages (mounted at /newsletter/)."""

from django.urls import path

from . import views

urlpatterns: list = [
    path("", views.subscribe_page, name="newsletter_subscribe_page"),
    path("check-inbox/", views.check_inbox, name="newsletter_check_inbox"),
    path("confirm/<str:token>/", views.confirm, name="newsletter_confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="newsletter_unsubscribe"),
    path("preferences/<str:token>/", views.preferences, name="newsletter_preferences"),
]
