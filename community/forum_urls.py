"""``/forum/``: the forum's pages (``community.forum_views``)."""

from django.urls import path, re_path

from . import forum_views

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

urlpatterns = [
    path("", forum_views.forum_index, name="forum_index"),
    path("tags/", forum_views.forum_tags, name="forum_tags"),
    # /forum/t/<id>-<slug>/: the id finds the topic; a missing or stale slug redirects to the title's.
    re_path(
        rf"^t/(?P<post_id>{UUID})-(?P<slug>[-a-zA-Z0-9_]+)/$", forum_views.forum_topic, name="forum_topic"
    ),
    re_path(rf"^t/(?P<post_id>{UUID})/$", forum_views.forum_topic, name="forum_topic_short"),
    re_path(rf"^t/(?P<post_id>{UUID})/reply/$", forum_views.forum_reply_create, name="forum_reply_create"),
    re_path(rf"^r/(?P<reply_id>{UUID})/solution/$", forum_views.forum_solution, name="forum_solution"),
    re_path(rf"^(?P<channel_id>{UUID})/$", forum_views.forum_channel, name="forum_channel"),
    re_path(rf"^(?P<channel_id>{UUID})/new/$", forum_views.forum_topic_create, name="forum_topic_create"),
]
