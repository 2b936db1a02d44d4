"""Serializers for the reports API."""

from rest_framework import serializers

from agentwise.api.fields import StrictCharField

from ..models import REPORTABLE_CHOICES, ModerationItem
from ..reports import MAX_REASON_CHARS


class ReportCreateSerializer(serializers.Serializer):
    content_type = serializers.ChoiceField(choices=REPORTABLE_CHOICES)
    content_id = StrictCharField(max_length=64, help_text="The message's, topic's or reply's id; for a profile, its user's id.")
    reason = StrictCharField(max_length=MAX_REASON_CHARS, help_text="Why: shown to moderators.")


class ReportSerializer(serializers.ModelSerializer):
    """Your report, as you filed it (never other reporters' or the moderators' notes)."""

    class Meta:
        model = ModerationItem
        fields = ["id", "content_type", "content_id", "reason", "status", "created_at"]
        read_only_fields = fields
