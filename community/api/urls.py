from django.urls import path

from . import views

urlpatterns = [
    path("community/channels/", views.ChannelListView.as_view(), name="community-channel-list"),
    path("community/channels/<str:channel_id>/messages/", views.ChannelMessagesView.as_view(), name="community-channel-messages"),
    path("community/channels/<str:channel_id>/read/", views.ChannelReadView.as_view(), name="community-channel-read"),
    path("community/channels/<str:channel_id>/members/", views.ChannelMembersView.as_view(), name="community-channel-members"),
    path(
        "community/channels/<str:channel_id>/members/<str:user_id>/",
        views.ChannelMemberDetailView.as_view(),
        name="community-channel-member",
    ),
    path("community/messages/<str:message_id>/", views.MessageDetailView.as_view(), name="community-message"),
    path("community/messages/<str:message_id>/thread/", views.ThreadView.as_view(), name="community-thread"),
    path("community/messages/<str:message_id>/reactions/", views.ReactionView.as_view(), name="community-reactions"),
    path("community/messages/<str:message_id>/edits/", views.EditHistoryView.as_view(), name="community-edits"),
    path("community/attachments/", views.AttachmentUploadView.as_view(), name="community-attachments"),
    path("forum/posts/", views.ForumPostListView.as_view(), name="forum-post-list"),
    path("forum/preview/", views.ForumPreviewView.as_view(), name="forum-preview"),
    path("forum/posts/<str:post_id>/", views.ForumPostDetailView.as_view(), name="forum-post"),
    path("forum/posts/<str:post_id>/replies/", views.ForumPostRepliesView.as_view(), name="forum-post-replies"),
    path("forum/posts/<str:post_id>/reactions/", views.ForumPostReactionView.as_view(), name="forum-post-reactions"),
    path("forum/posts/<str:post_id>/edits/", views.ForumPostEditHistoryView.as_view(), name="forum-post-edits"),
    path("forum/replies/<str:reply_id>/", views.ForumReplyDetailView.as_view(), name="forum-reply"),
    path("forum/replies/<str:reply_id>/solution/", views.ForumSolutionView.as_view(), name="forum-reply-solution"),
    path("forum/replies/<str:reply_id>/reactions/", views.ForumReplyReactionView.as_view(), name="forum-reply-reactions"),
]
