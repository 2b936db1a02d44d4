"""Community REST API: channels, history pages, threads, and sending/editing from scripts; forum topics and replies.

Writes go through the same services as the websocket consumer, so a message sent here is broadcast
to websocket clients the same way.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from agentwise.api.fields import NO_NUL
from agentwise.api.pagination import single_positive_int
from content.search import search_rate_limit

from .. import events, markup, permissions, selectors, services
from ..models import FORUM_TAG_PATTERN, MAX_FORUM_TAG_CHARS, Channel, ForumPost, ForumReply, Message
from .serializers import (
    MAX_SEARCH_CHARS,
    AttachmentSerializer,
    AttachmentUploadSerializer,
    ChannelMemberAddSerializer,
    ChannelMemberSerializer,
    ChannelSerializer,
    ForumPostCreateSerializer,
    ForumPostEditHistorySerializer,
    ForumPostFilterSerializer,
    ForumPostSerializer,
    ForumPostUpdateSerializer,
    ForumPreviewResultSerializer,
    ForumPreviewSerializer,
    ForumReplySerializer,
    ForumReplyWriteSerializer,
    MessageCreateSerializer,
    MessageEditHistorySerializer,
    MessageEditSerializer,
    MessagePageSerializer,
    MessageSerializer,
    ReactionResultSerializer,
    ReactionToggleSerializer,
    ReadMarkerResultSerializer,
    ReadMarkerSerializer,
)


def _channel(request, channel_id) -> Channel:
    return selectors.channel_get_visible(user=request.user, channel_id=channel_id)


def _message(request, message_id, *, deleted_ok: bool = False) -> Message:
    return selectors.message_get_visible(user=request.user, message_id=message_id, deleted_ok=deleted_ok)


def _payloads(messages, viewer) -> list[dict]:
    """Message payloads with the viewer's reactions and what the viewer may do with each message."""
    reactions = selectors.reaction_summaries(messages=messages, viewer=viewer)
    channels: dict = {}
    for message in messages:  # one instance per channel, so its membership is looked up once
        message.channel = channels.setdefault(message.channel_id, message.channel)
    return [
        {**events.message_payload(m, reactions=reactions[m.pk]), **permissions.message_capabilities(viewer, m)}
        for m in messages
    ]


def _cursor_seq(request, channel: Channel, name: str) -> int | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError({name: ["Give this parameter once."]})
    seq = selectors.message_seq_in_channel(channel=channel, message_id=values[0])
    if seq is None:
        raise ValidationError({name: ["Not a message of this channel."]})
    return seq


class ChannelListView(generics.ListAPIView):
    """Channels you can read, in sidebar order, with unread counts."""

    serializer_class = ChannelSerializer
    queryset = Channel.objects.none()

    def get_queryset(self):
        return selectors.channel_list_visible_to(user=self.request.user)


HISTORY_PARAMETERS = [
    OpenApiParameter("before", OpenApiTypes.UUID, description="Older than this message (scrolling back)."),
    OpenApiParameter(
        "after", OpenApiTypes.UUID,
        description="Newer than this message (catching up after a reconnect); with `before`, the messages between the two.",
    ),
    OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100}, description="Default 50."),
]


class ChannelMessagesView(APIView):
    @extend_schema(
        summary="A page of a channel's messages, newest first (thread replies excluded)",
        parameters=HISTORY_PARAMETERS,
        responses=MessagePageSerializer,
    )
    def get(self, request, channel_id):
        channel = _channel(request, channel_id)
        limit = single_positive_int(request, "limit", maximum=selectors.HISTORY_MAX) or 50
        before = _cursor_seq(request, channel, "before")
        after = _cursor_seq(request, channel, "after")
        page = selectors.message_history(channel=channel, viewer=request.user, before_seq=before, after_seq=after, limit=limit + 1)
        has_more = len(page) > limit
        page = page[1:] if (has_more and after is not None) else page[:limit]
        return Response({"results": _payloads(page, request.user), "has_more": has_more})

    @extend_schema(
        summary="Send a message (broadcast to websocket clients like any other)",
        request=MessageCreateSerializer,
        responses={201: MessageSerializer},
    )
    def post(self, request, channel_id):
        channel = _channel(request, channel_id)
        serializer = MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        parent = _message(request, data["parent"], deleted_ok=True) if data.get("parent") else None
        message = services.message_post(
            actor=request.user,
            channel=channel,
            content=data["content"],
            content_type=data["content_type"],
            parent=parent,
            client_id=data.get("client_id", ""),
            attachment_ids=[str(a) for a in data.get("attachments", [])],
        )
        return Response(_payloads([message], request.user)[0], status=status.HTTP_201_CREATED)


class ChannelReadView(APIView):
    @extend_schema(summary="Move your read marker (channel, or a thread)", request=ReadMarkerSerializer, responses=ReadMarkerResultSerializer)
    def post(self, request, channel_id):
        channel = _channel(request, channel_id)
        serializer = ReadMarkerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        thread = _message(request, serializer.validated_data["thread"], deleted_ok=True) if serializer.validated_data.get("thread") else None
        marker = services.read_mark(actor=request.user, channel=channel, seq=serializer.validated_data["seq"], thread=thread)
        return Response({"last_read_seq": marker.last_read_seq})


class MessageDetailView(APIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]
    partial_update_requires_fields = True  # PATCH is "replace the content"

    @extend_schema(summary="One message", responses=MessageSerializer)
    def get(self, request, message_id):
        return Response(_payloads([_message(request, message_id)], request.user)[0])

    @extend_schema(summary="Edit your message (staff: any)", request=MessageEditSerializer, responses=MessageSerializer)
    def patch(self, request, message_id):
        message = _message(request, message_id)
        serializer = MessageEditSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_edit(actor=request.user, message=message, content=serializer.validated_data["content"])
        return Response(_payloads([message], request.user)[0])

    @extend_schema(summary="Delete your message (staff: any); the thread stays", responses={204: None})
    def delete(self, request, message_id):
        services.message_delete(actor=request.user, message=_message(request, message_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ThreadView(APIView):
    @extend_schema(summary="A thread: the first message and its replies, oldest first", responses=MessagePageSerializer)
    def get(self, request, message_id):
        root = _message(request, message_id, deleted_ok=True)
        if root.parent_id is not None:
            root = _message(request, root.parent_id, deleted_ok=True)
        replies = selectors.thread_messages(root=root, viewer=request.user)
        return Response({"results": _payloads([root, *replies], request.user), "has_more": len(replies) >= selectors.HISTORY_MAX})


class ReactionView(APIView):
    @extend_schema(summary="Toggle your reaction", request=ReactionToggleSerializer, responses=ReactionResultSerializer)
    def post(self, request, message_id):
        message = _message(request, message_id)
        serializer = ReactionToggleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        added, count = services.reaction_toggle(actor=request.user, message=message, emoji=serializer.validated_data["emoji"])
        return Response({"emoji": serializer.validated_data["emoji"].strip(), "added": added, "count": count})


class EditHistoryView(generics.ListAPIView):
    """Earlier versions of a message, oldest first (visible to everyone who can read it)."""

    serializer_class = MessageEditHistorySerializer
    queryset = Message.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Message.objects.none()
        return selectors.message_edit_history(message=_message(self.request, self.kwargs["message_id"]))


class AttachmentUploadView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Upload a file to attach to your next message (≤ 5 MB; images, PDF, text, JSON)",
        description="Images and PDFs are recognised by their content (a file claiming to be one must be one); "
        "text and JSON by the part's Content-Type or the file name. The stored file keeps only the detected type.",
        request={
            "multipart/form-data": OpenApiRequest(
                AttachmentUploadSerializer,
                encoding={"file": {"contentType": ", ".join(services.ALLOWED_ATTACHMENT_TYPES)}},
            )
        },
        responses={201: AttachmentSerializer},
    )
    def post(self, request):
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = services.attachment_upload(actor=request.user, upload=serializer.validated_data["file"])
        return Response(attachment.as_dict(), status=status.HTTP_201_CREATED)


class ChannelMembersView(generics.ListAPIView):
    """Members of a private channel (staff manage them; members may list them)."""

    serializer_class = ChannelMemberSerializer
    queryset = Channel.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Channel.objects.none()
        channel = _channel(self.request, self.kwargs["channel_id"])
        return selectors.channel_members(channel=channel)

    @extend_schema(summary="Add a member (staff)", request=ChannelMemberAddSerializer, responses={201: ChannelMemberSerializer})
    def post(self, request, channel_id):
        channel = _channel(request, channel_id)
        serializer = ChannelMemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = selectors.user_get_by_handle(username=serializer.validated_data["username"])
        member = services.channel_member_add(actor=request.user, channel=channel, user=user)
        return Response(ChannelMemberSerializer(member).data, status=status.HTTP_201_CREATED)


class ChannelMemberDetailView(APIView):
    @extend_schema(summary="Remove a member (staff): their open sockets leave the channel at once", responses={204: None})
    def delete(self, request, channel_id, user_id):
        channel = _channel(request, channel_id)
        member = selectors.channel_member_get(channel=channel, user_id=user_id)
        services.channel_member_remove(actor=request.user, channel=channel, user=member.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Forum ---------------------------------------------------------------------------------------


def _forum_post(request, post_id) -> ForumPost:
    return selectors.forum_post_get_visible(user=request.user, post_id=post_id)


def _forum_reply(request, reply_id, *, deleted_ok: bool = False) -> ForumReply:
    return selectors.forum_reply_get_visible(user=request.user, reply_id=reply_id, deleted_ok=deleted_ok)


def _forum_post_payloads(posts, viewer) -> list[dict]:
    """Topic payloads with the viewer's reactions and ``can_*``: one query for reactions, one for
    private-forum memberships, whatever the number of topics."""
    posts = list(posts)
    channels: dict = {}
    for post in posts:  # one instance per channel, so its membership is looked up once
        post.channel = channels.setdefault(post.channel_id, post.channel)
    selectors.forum_channels_prefill_membership(user=viewer, channels=channels.values())
    reactions = selectors.forum_reaction_summaries(viewer=viewer, posts=posts)
    html = markup.forum_html_many([p.content for p in posts])  # mentions looked up once for the page
    return [
        {**events.forum_post_payload(p, reactions=reactions[p.pk], content_html=h), **permissions.forum_post_capabilities(viewer, p)}
        for p, h in zip(posts, html, strict=True)
    ]


def _forum_reply_payloads(replies, viewer, *, post: ForumPost | None = None) -> list[dict]:
    replies = list(replies)
    for reply in replies:  # the topic (and its channel) once, not once per reply
        if post is not None:
            reply.post = post
    reactions = selectors.forum_reaction_summaries(viewer=viewer, replies=replies)
    html = markup.forum_html_many(["" if r.deleted_at else r.content for r in replies])
    return [
        {**events.forum_reply_payload(r, reactions=reactions[r.pk], content_html=h), **permissions.forum_reply_capabilities(viewer, r)}
        for r, h in zip(replies, html, strict=True)
    ]


FORUM_LIST_PARAMETERS = [
    OpenApiParameter(
        "q", {"type": "string", "maxLength": MAX_SEARCH_CHARS, "pattern": NO_NUL},
        description='Full-text search over titles, texts and replies: every word must match (stemmed), '
        '`"quoted phrase"` in a row, `-word` excludes, the last word as a prefix unless a space follows. '
        "Results come best first (title matches above text, text above replies), each with a `snippet`; "
        "`order` then only filters (`unanswered`, `solved`). Empty: the plain list. Longer than "
        f"{MAX_SEARCH_CHARS} characters: 400.",
    ),
    OpenApiParameter("channel", OpenApiTypes.UUID, description="Only this forum channel's topics."),
    OpenApiParameter("tag", {"type": "string", "pattern": FORUM_TAG_PATTERN, "maxLength": MAX_FORUM_TAG_CHARS},
                     description="Only topics with this tag (any case)."),
    OpenApiParameter(
        "order", {"type": "string", "enum": list(selectors.FORUM_ORDERINGS)},
        description="Pinned topics always come first. "
        + " ".join(f"`{name}`: {text}" for name, text in selectors.FORUM_ORDERINGS.items())
        + " Default `activity`.",
    ),
]


class ForumPostListView(generics.ListCreateAPIView):
    serializer_class = ForumPostSerializer
    queryset = ForumPost.objects.none()

    @extend_schema(summary="Forum topics you can see, pinned first; or a search (`q`), best first",
                   parameters=FORUM_LIST_PARAMETERS)
    def get(self, request, *args, **kwargs):
        # A plain dict: from a QueryDict, DRF would read an empty optional value (``?tag=``) as absent.
        filters = ForumPostFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        query = data.get("q", "")
        if query.strip():
            search_rate_limit(request)  # the docs search's budget: searching is the costliest read
            queryset = selectors.forum_post_search(
                user=request.user, q=query, channel_id=data.get("channel"), tag=data.get("tag"), order=data["order"]
            )
        else:
            queryset = selectors.forum_post_list(
                user=request.user, channel_id=data.get("channel"), tag=data.get("tag"), order=data["order"]
            )
        page = self.paginate_queryset(queryset)
        payloads = _forum_post_payloads(page, request.user)
        if query.strip():
            for payload, post in zip(payloads, page, strict=True):
                payload["snippet"] = str(post.search_snippet)
        return self.get_paginated_response(payloads)

    @extend_schema(summary="Open a topic in a forum channel", request=ForumPostCreateSerializer, responses={201: ForumPostSerializer})
    def post(self, request, *args, **kwargs):
        serializer = ForumPostCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        channel = selectors.forum_channel_for_new_post(user=request.user, channel_id=data["channel"])
        post = services.forum_post_create(actor=request.user, channel=channel, title=data["title"],
                                          content=data["content"], tags=data["tags"])
        post = _forum_post(request, post.pk)
        return Response(_forum_post_payloads([post], request.user)[0], status=status.HTTP_201_CREATED)


class ForumPostDetailView(APIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]

    @extend_schema(summary="One topic (counts your view, at most once an hour)", responses=ForumPostSerializer)
    def get(self, request, post_id):
        post = _forum_post(request, post_id)
        services.forum_post_view_count(viewer=request.user, post=post)
        return Response(_forum_post_payloads([post], request.user)[0])

    @extend_schema(
        summary="Edit your topic (staff: any); staff pin and lock",
        description="The previous title and text are kept in the topic's edit history.",
        request=ForumPostUpdateSerializer, responses=ForumPostSerializer,
    )
    def patch(self, request, post_id):
        post = _forum_post(request, post_id)
        serializer = ForumPostUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.forum_post_update(actor=request.user, post=post, data=serializer.validated_data)
        return Response(_forum_post_payloads([_forum_post(request, post_id)], request.user)[0])

    @extend_schema(summary="Delete your topic and its replies (staff: any)", responses={204: None})
    def delete(self, request, post_id):
        services.forum_post_delete(actor=request.user, post=_forum_post(request, post_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ForumPostRepliesView(generics.ListCreateAPIView):
    serializer_class = ForumReplySerializer
    queryset = ForumReply.objects.none()

    @extend_schema(summary="A topic's replies, oldest first (deleted ones as tombstones)")
    def get(self, request, post_id):
        post = _forum_post(request, post_id)
        page = self.paginate_queryset(selectors.forum_replies(post=post, viewer=request.user))
        return self.get_paginated_response(_forum_reply_payloads(page, request.user, post=post))

    @extend_schema(
        summary="Reply to a topic",
        description="A locked topic refuses with 403 `topic_locked`.",
        request=ForumReplyWriteSerializer, responses={201: ForumReplySerializer},
    )
    def post(self, request, post_id):
        post = _forum_post(request, post_id)
        serializer = ForumReplyWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reply = services.forum_reply_create(actor=request.user, post=post, content=serializer.validated_data["content"])
        return Response(_forum_reply_payloads([reply], request.user, post=post)[0], status=status.HTTP_201_CREATED)


class ForumReplyDetailView(APIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]
    partial_update_requires_fields = True  # PATCH is "replace the content"

    @extend_schema(summary="One reply", responses=ForumReplySerializer)
    def get(self, request, reply_id):
        return Response(_forum_reply_payloads([_forum_reply(request, reply_id)], request.user)[0])

    @extend_schema(summary="Edit your reply (staff: any)", request=ForumReplyWriteSerializer, responses=ForumReplySerializer)
    def patch(self, request, reply_id):
        reply = _forum_reply(request, reply_id)
        serializer = ForumReplyWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reply = services.forum_reply_edit(actor=request.user, reply=reply, content=serializer.validated_data["content"])
        return Response(_forum_reply_payloads([reply], request.user)[0])

    @extend_schema(summary="Delete your reply (staff: any); it stays as a tombstone", responses={204: None})
    def delete(self, request, reply_id):
        services.forum_reply_delete(actor=request.user, reply=_forum_reply(request, reply_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ForumSolutionView(APIView):
    @extend_schema(
        summary="Mark this reply as the topic's solution (the topic's author or staff)",
        description="Replaces any earlier solution: a topic has at most one.",
        request=None, responses=ForumReplySerializer,
    )
    def post(self, request, reply_id):
        reply = services.forum_solution_mark(actor=request.user, reply=_forum_reply(request, reply_id))
        return Response(_forum_reply_payloads([reply], request.user)[0])

    @extend_schema(summary="Unmark this reply as the solution (the topic's author or staff)", responses={204: None})
    def delete(self, request, reply_id):
        services.forum_solution_unmark(actor=request.user, reply=_forum_reply(request, reply_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ForumPreviewView(APIView):
    @extend_schema(
        summary="Render markdown as a topic or reply would show it (the composer's preview)",
        description="Nothing is saved. Signed-in only, rate-limited (`community.preview`); at most 20,000 characters.",
        request=ForumPreviewSerializer, responses=ForumPreviewResultSerializer,
    )
    def post(self, request):
        serializer = ForumPreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"html": services.forum_preview_render(actor=request.user, content=serializer.validated_data["content"])})


class ForumPostReactionView(APIView):
    @extend_schema(summary="Toggle your reaction on a topic", request=ReactionToggleSerializer, responses=ReactionResultSerializer)
    def post(self, request, post_id):
        post = _forum_post(request, post_id)
        serializer = ReactionToggleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        added, count = services.forum_reaction_toggle(actor=request.user, target=post, emoji=serializer.validated_data["emoji"])
        return Response({"emoji": serializer.validated_data["emoji"].strip(), "added": added, "count": count})


class ForumReplyReactionView(APIView):
    @extend_schema(summary="Toggle your reaction on a reply", request=ReactionToggleSerializer, responses=ReactionResultSerializer)
    def post(self, request, reply_id):
        reply = _forum_reply(request, reply_id)
        serializer = ReactionToggleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        added, count = services.forum_reaction_toggle(actor=request.user, target=reply, emoji=serializer.validated_data["emoji"])
        return Response({"emoji": serializer.validated_data["emoji"].strip(), "added": added, "count": count})


class ForumPostEditHistoryView(generics.ListAPIView):
    """Earlier titles and texts of a topic, oldest first (visible to everyone who can read it)."""

    serializer_class = ForumPostEditHistorySerializer
    queryset = ForumPost.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ForumPost.objects.none()
        return selectors.forum_post_edit_history(post=_forum_post(self.request, self.kwargs["post_id"]))
