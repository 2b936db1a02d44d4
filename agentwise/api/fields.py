"""Serializer fields that take JSON types at their word (DRF's CharField would turn 42 into "42")."""

import re

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# Text rules DRF's CharField enforces, as schema patterns: never a NUL character; and, when a value
# is required, not blank once whitespace is stripped (Python's \s: what str.strip() removes).
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# Stricter than Django's URLValidator (which models still run), and stated as a schema pattern, so
# what the OpenAPI schema calls valid is exactly what the API takes: http(s), a host of 2 to 5
# labels ending in an alphabetic TLD (at most 220 characters), an optional port, then any visible
# ASCII. "format: uri" would promise more than Django accepts (IP literals, user info, spaces).
HTTP_URL_RE = re.compile(
    r"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,46}[A-Za-z0-9])?\.){1,4}[A-Za-z]{2,24}(?::[0-9]{1,5})?(?:[/?#][!-~]*)?$"
)


class StrictStringMixin:
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_messages["not_a_string"] = "Must be a string."


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictRegexField(StrictStringMixin, serializers.RegexField):
    pass


class HttpURLField(StrictStringMixin, serializers.CharField):
    """An http(s) link a user gives (website, avatar, repository); see HTTP_URL_RE."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(RegexValidator(HTTP_URL_RE, message="Enter an http(s) URL such as https://example.com/page."))


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false (DRF would also take 0, 1, "yes", "on"…)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """Only JSON integers (DRF would also take "5"); 5.0 is one, as JSON Schema counts it."""

    def to_internal_value(self, data):
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """Only JSON numbers (DRF would also take "0.5")."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


def _contains_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


@extend_schema_field(
    {
        "type": "object",
        "propertyNames": {"pattern": NO_NUL},
        "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
    }
)
class JSONObjectField(serializers.DictField):
    """A free-form JSON object (settings, stats, metadata) that PostgreSQL's jsonb can store.

    jsonb has no NUL character (``\\u0000``): one anywhere, key or value, is a 400 instead of a 500.
    """

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if _contains_nul(value):
            raise serializers.ValidationError("Text in this object may not contain NUL (\\u0000) characters.")
        return value


JSON_VALUE_SCHEMA = {
    "description": "Any JSON value; text anywhere in it has no NUL character.",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
        },
    ],
}
