"""Accounts API: your own account, public profiles, personal API keys."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from agentwise.access import can
from agentwise.errors import NotFound

from .. import deletion, selectors, services
from ..credentials import Credential
from ..models import ApiKey, DataExport, Notification, Profile, UserMute
from .filters import ApiKeyFilter
from .serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    DataExportSerializer,
    MeSerializer,
    MutedUserSerializer,
    NotificationPreferencesSerializer,
    NotificationSerializer,
    PublicProfileSerializer,
)


class MeView(generics.GenericAPIView):
    """Your account: the public profile plus private fields (email, plan)."""

    serializer_class = MeSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self) -> Profile:
        return selectors.profile_get_own(user=self.request.user)

    def get(self, request):
        return Response(self.get_serializer(self.get_object()).data)

    def patch(self, request):
        profile = self.get_object()
        serializer = self.get_serializer(profile, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profile = services.profile_update(actor=request.user, profile=profile, data=serializer.validated_data)
        return Response(self.get_serializer(profile).data)

    @extend_schema(
        operation_id="me_delete",
        summary="Delete your account",
        description="Deletes your account at once and for good (docs/privacy.md, \"Deletion\"): you are signed out "
        "everywhere, your sockets close (4401), your keys stop working (401), your subscription is canceled, your "
        "projects not transferred are deleted. Only from a browser session signed in (or re-authenticated) within "
        "the last 5 minutes: with an API key it is 403 `permission_denied`; an older session gets 403 "
        "`reauthentication_required` with `reauthenticate_url`. 503 `billing_unavailable` when Stripe cannot be "
        "reached: nothing was deleted, try again.",
        parameters=[OpenApiParameter(
            "remove_content", OpenApiTypes.BOOL, OpenApiParameter.QUERY, required=False,
            description="Also remove what you wrote (messages, topics, replies become tombstones). Default false.",
        )],
        request=None,
        responses={204: None, 400: OpenApiResponse(description="A bad `remove_content`."),
                   403: OpenApiResponse(description="An API key, or no recent sign-in."),
                   503: OpenApiResponse(description="Stripe unreachable; nothing deleted.")},
    )
    def delete(self, request):
        remove_content = request.query_params.get("remove_content", "false")
        if remove_content not in ("true", "false"):
            raise ValidationError({"remove_content": ["Use true or false."]})
        deletion.account_delete(
            actor=request.user, user=request.user, remove_content=remove_content == "true",
            credential=Credential.from_request(request),
        )
        deletion.request_signed_out(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PublicProfileView(generics.RetrieveAPIView):
    """A public profile by handle (case-insensitive). Anyone may read it."""

    serializer_class = PublicProfileSerializer
    permission_classes = [permissions.AllowAny]

    def get_object(self) -> Profile:
        return selectors.profile_get_public(username=self.kwargs["username"])


class MayMintKeys(permissions.BasePermission):
    """Asks the key-minting rule before the body is read: a request that may not create keys at all
    (it carries a key) is a 403 whatever it sends, not a 400 about its fields."""

    message = "API keys can only be created from a signed-in session, not with another key."

    def has_permission(self, request, view):
        if getattr(view, "action", None) != "create" or not request.user.is_authenticated:
            return True
        return can(request.user, "accounts.add_apikey", Credential.from_request(request))


@extend_schema_view(
    list=extend_schema(summary="List your API keys"),
    create=extend_schema(
        summary="Create an API key",
        description="Needs a browser session signed in (or re-authenticated) within the last 5 minutes: an API "
        "key cannot mint more keys (403 `permission_denied`), and an older session gets 403 "
        "`reauthentication_required` with `reauthenticate_url`. The response carries the secret `key` once; "
        "store it now. You are emailed about every new key.",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
    ),
    retrieve=extend_schema(summary="One of your API keys"),
    destroy=extend_schema(summary="Revoke an API key", description="Revokes at once; the key then gets 401."),
)
class ApiKeyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = ApiKeySerializer
    permission_classes = [permissions.IsAuthenticated, MayMintKeys]
    queryset = ApiKey.objects.none()  # for the schema; get_queryset() scopes to the user
    filterset_class = ApiKeyFilter

    def get_queryset(self):
        return selectors.api_key_list_for(user=self.request.user)

    def create(self, request):
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, raw_key = services.api_key_create(
            user=request.user, credential=Credential.from_request(request), **serializer.validated_data
        )
        api_key.key = raw_key
        return Response(ApiKeyCreatedSerializer(api_key).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        api_key: ApiKey = self.get_object()
        services.api_key_revoke(actor=request.user, api_key=api_key)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Your notifications, newest first", description="`?unread=true` for unread only."),
)
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    queryset = Notification.objects.none()

    def get_queryset(self):
        queryset = selectors.notification_list_for(user=self.request.user)
        unread = self.request.query_params.get("unread")
        if unread not in (None, "true", "false"):
            raise ValidationError({"unread": ["Use true or false."]})
        if unread == "true":
            queryset = queryset.filter(read_at__isnull=True)
        return queryset

    @extend_schema(summary="Mark all your notifications read", request=None, responses={200: None})
    @action(detail=False, methods=["post"], url_path="read")
    def mark_read(self, request):
        return Response({"marked": services.notifications_mark_read(user=request.user)})

    @extend_schema(
        operation_id="notifications_read_one",
        summary="Mark one notification read",
        description="404 for a notification that is not yours. Marking one already read changes nothing.",
        request=None,
        responses=NotificationSerializer,
    )
    @action(detail=True, methods=["post"], url_path="read")
    def mark_one_read(self, request, pk=None):
        notification = self.get_object()
        services.notifications_mark_read(user=request.user, notification_ids=[notification.pk])
        notification.refresh_from_db()
        return Response(NotificationSerializer(notification).data)


class NotificationPreferencesView(generics.GenericAPIView):
    """How each kind of notification reaches you: in-app only, or also in the daily email digest."""

    serializer_class = NotificationPreferencesSerializer
    http_method_names = ["get", "put", "head", "options"]

    def get_object(self) -> dict:
        return selectors.notification_deliveries(user=self.request.user)

    @extend_schema(summary="Your notification preferences", description="Every kind, with its current delivery.")
    def get(self, request):
        return Response(self.get_object())

    @extend_schema(
        summary="Change your notification preferences",
        description="Kinds not named keep their delivery. An unknown kind, or a change to a notice that is "
        "always emailed at once, is a 400 naming it. Answers every kind's delivery.",
    )
    def put(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.notification_preferences_set(user=request.user, choices=serializer.validated_data))


@extend_schema_view(get=extend_schema(summary="Users you muted", description="Newest first."))
class MutedUserListView(generics.ListAPIView):
    serializer_class = MutedUserSerializer
    queryset = UserMute.objects.none()  # for the schema; get_queryset() scopes to the user

    def get_queryset(self):
        return selectors.mute_list_for(user=self.request.user)


class UserMuteView(generics.GenericAPIView):
    """Muting a user: nothing they do notifies you any more (mentions, replies, solutions, reactions)."""

    serializer_class = MutedUserSerializer
    http_method_names = ["post", "delete", "options"]

    def _target(self):
        return selectors.profile_get_public(username=self.kwargs["username"]).user

    @extend_schema(
        operation_id="users_mute",
        summary="Mute a user",
        description="Muting twice is harmless. 400 for yourself, 404 for an unknown or inactive user.",
        request=None,
        responses=MutedUserSerializer,
    )
    def post(self, request, username):
        mute = services.user_mute(actor=request.user, muted=self._target())
        return Response(MutedUserSerializer(mute).data)

    @extend_schema(
        operation_id="users_unmute", summary="Unmute a user", description="Unmuting twice is harmless.",
        request=None, responses={204: None},
    )
    def delete(self, request, username):
        services.user_unmute(actor=request.user, muted=self._target())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignedInBrowserOnly(permissions.BasePermission):
    """Asked before anything else: a request with an API key is a 403 ``session_required`` whatever it
    sends. Your data leaves only through your own signed-in browser session (docs/privacy.md)."""

    message = "Your data can only be exported from a signed-in browser session, not with an API key."
    code = "session_required"

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return True  # IsAuthenticated answers 401 first
        return can(request.user, "accounts.request_data_export", Credential.from_request(request))


_EXPORT_DESCRIPTION = (
    " Only from a signed-in browser session: an API key gets 403 `session_required`. Anonymous: 401."
)


class DataExportView(generics.GenericAPIView):
    """Your data: request an export (a zip of everything your account holds, emailed as a signed link)
    and follow its progress."""

    serializer_class = DataExportSerializer
    permission_classes = [permissions.IsAuthenticated, SignedInBrowserOnly]
    queryset = DataExport.objects.none()  # for the schema
    http_method_names = ["get", "post", "head", "options"]

    @extend_schema(
        operation_id="me_export_retrieve",
        auth=[{"cookieAuth": []}],
        summary="Your latest data export",
        description="Its state (`pending`, `running` with `sections_done` of `sections_total` and `rows_written`, "
        "`ready` with `download_url`, `failed`, `expired`) and when you may ask again. 404 before "
        "your first request." + _EXPORT_DESCRIPTION,
        responses={200: DataExportSerializer},
    )
    def get(self, request):
        export = selectors.data_export_latest(user=request.user)
        if export is None:
            raise NotFound("You have not requested an export of your data yet.")
        return Response(self.get_serializer(export).data)

    @extend_schema(
        operation_id="me_export_create",
        auth=[{"cookieAuth": []}],
        summary="Request an export of your data",
        description="Queues a zip of your account's data (profile, projects, runs, messages, files, billing…); "
        "an email brings a download link that works for 7 days, for you signed in. One export a day: a second "
        "request within 24 hours is a 429 `rate_limited` with `Retry-After` and `next_allowed_at`; a failed "
        "build does not count." + _EXPORT_DESCRIPTION,
        request=None,
        responses={202: DataExportSerializer},
    )
    def post(self, request):
        export = services.data_export_request(user=request.user, credential=Credential.from_request(request))
        return Response(self.get_serializer(export).data, status=status.HTTP_202_ACCEPTED)
