from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.community_home, name="community_home"),
    re_path(
        r"^attachments/(?P<attachment_id>[0-9a-f-]{36})\.(?P<extension>[a-z]{2,5})$",
        views.attachment_download,
        name="community_attachment",
    ),
]
