"""Community REST API: channels, history pages, threads, and sending/editing from scripts.

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

from agentwise.api.pagination import single_positive_int

from .. import events, permissions, selectors, services
from ..models import Channel, Message
from .serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    ChannelMemberAddSerializer,
    ChannelMemberSerializer,
    ChannelSerializer,
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
        page = selectors.message_history(channel=channel, before_seq=before, after_seq=after, limit=limit + 1)
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
        replies = selectors.thread_messages(root=root)
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
