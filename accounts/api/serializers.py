"""Accounts API shapes. Public output never carries email, Stripe ids or metadata."""

from datetime import datetime

from django.contrib.auth import get_user_model
from rest_framework import serializers

from agentwise.api.fields import (
    ClosedSerializer,
    HttpURLField,
    StrictCharField,
    StrictRegexField,
    UTCDateTimeField,
)

from ..models import ApiKey, DataExport, DataExportStatus, Notification, Profile, UserMute
from ..notification_kinds import CHOOSABLE_CHOICES, IMMEDIATE_CHOICES, KINDS
from ..validators import USERNAME_RE, UsernameValidator

User = get_user_model()


class PublicProfileSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    avatar = serializers.CharField(source="avatar_src", read_only=True)
    website = serializers.CharField(read_only=True, help_text="An http(s) URL, or empty.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = [
            "username",
            "full_name",
            "avatar",
            "bio",
            "company",
            "location",
            "website",
            "github_username",
            "twitter_handle",
            "url",
            "created_at",
        ]
        read_only_fields = fields

    def get_url(self, profile) -> str:
        return f"/u/{profile.user.username}/"


class MeSerializer(serializers.Serializer):
    """The signed-in user's own account: public profile plus private fields, handle and profile writable."""

    id = serializers.UUIDField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True, help_text="Change it in the account settings; it is re-confirmed.")
    username = StrictRegexField(
        USERNAME_RE.pattern, source="user.username", max_length=50, validators=[UsernameValidator()],
        error_messages={"invalid": UsernameValidator.message},
    )
    full_name = StrictCharField(max_length=255, allow_blank=True, required=False)
    avatar = serializers.CharField(source="avatar_src", read_only=True)
    avatar_url = HttpURLField(max_length=500, allow_blank=True, required=False)
    bio = StrictCharField(max_length=2000, allow_blank=True, required=False)
    company = StrictCharField(max_length=255, allow_blank=True, required=False)
    location = StrictCharField(max_length=255, allow_blank=True, required=False)
    website = HttpURLField(max_length=500, allow_blank=True, required=False)
    github_username = StrictRegexField(r"^[A-Za-z0-9_-]{1,39}$", allow_blank=True, required=False)
    twitter_handle = StrictRegexField(r"^[A-Za-z0-9_-]{1,39}$", allow_blank=True, required=False)
    subscription_tier = serializers.CharField(read_only=True)
    subscription_status = serializers.CharField(read_only=True)
    date_joined = serializers.DateTimeField(source="user.date_joined", read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        user_values = values.pop("user", {})
        values.update(user_values)  # flatten {"user": {"username": ...}} for the service
        return values


class ApiKeySerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True, help_text="active, revoked or expired")

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "state", "created_at", "last_used_at", "expires_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    expires_at = UTCDateTimeField(required=False, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret. Shown only in this response.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "data", "created_at", "read_at"]
        read_only_fields = fields


def _delivery_field(kind) -> serializers.ChoiceField:
    if kind.configurable:
        return serializers.ChoiceField(choices=CHOOSABLE_CHOICES, required=False, help_text=kind.label)
    return serializers.ChoiceField(
        choices=IMMEDIATE_CHOICES, required=False, help_text=f"{kind.label}. Always emailed at once; cannot be changed."
    )


class NotificationPreferencesSerializer(ClosedSerializer):
    """One field per kind of notification: ``in_app`` (in-app only) or
    ``digest`` (in-app and the daily email digest); security and billing notices are ``immediate``."""

    unknown_message = "Unknown notification kind."

    def get_fields(self):
        return {key: _delivery_field(kind) for key, kind in KINDS.items()}


class MutedUserSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="muted.username", read_only=True)
    display_name = serializers.CharField(source="muted.profile.display_name", read_only=True)
    muted_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = UserMute
        fields = ["username", "display_name", "muted_at"]
        read_only_fields = fields


class DataExportSerializer(serializers.ModelSerializer):
    """An export of your data and how far it got. ``download_url`` is set while it is ready: a signed link
    that works for your signed-in browser session until ``expires_at``."""

    status = serializers.ChoiceField(source="state", choices=DataExportStatus.choices, read_only=True)
    download_url = serializers.SerializerMethodField()
    next_request_at = serializers.SerializerMethodField(
        help_text="When you may request the next export; null when you may now."
    )

    class Meta:
        model = DataExport
        fields = [
            "id", "status", "requested_at", "started_at", "finished_at", "expires_at", "sections_total",
            "sections_done", "rows_written", "file_size", "download_url", "next_request_at",
        ]
        read_only_fields = fields

    def get_download_url(self, export) -> str | None:
        from ..services import data_export_download_url

        return data_export_download_url(export)

    def get_next_request_at(self, export) -> datetime | None:
        from ..services import data_export_next_allowed_at

        return data_export_next_allowed_at(user=export.user)
