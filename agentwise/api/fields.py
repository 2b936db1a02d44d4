"""Serializer fields that take JSON types at their word (DRF's CharField would turn 42 into "42")."""

import re
from datetime import UTC, datetime

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# Text rules DRF's CharField enforces, as schema patterns: never a NUL character; and, when a value
# is required, not blank once stripped. The whitespace is spelled out (what Python's str.strip()
# removes) because a JSON Schema reader's \s is JavaScript's, which differs (\x1c-\x1f, \x85, \ufeff).
_PY_SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = rf"^[^\x00]*[^\x00{_PY_SPACE}][^\x00]*$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# Stricter than Django's URLValidator (which models still run; a property test checks the subset),
# and stated as a schema pattern, so what the OpenAPI schema calls valid is exactly what the API
# takes: http(s) in any case; a host of up to 4 labels of up to 63 characters, or up to 8 of up to 30
# (so never over DNS's 253), ending in an alphabetic or punycode TLD; an optional port; then a path
# without whitespace. Hosts are ASCII: give an IDN in its xn-- form. No lookahead, no flags: JSON
# Schema readers (and fuzzers generating from the pattern) handle neither well.
_LABEL63 = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LABEL30 = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,28}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9]{1,30})\.?"
_PATH = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
HTTP_URL_RE = re.compile(
    rf"^[Hh][Tt][Tt][Pp][Ss]?://(?:(?:{_LABEL63}\.){{1,3}}|(?:{_LABEL30}\.){{1,7}}){_TLD}(?::[0-9]{{1,5}})?(?:[/?#]{_PATH}*)?$"
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


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC (a naive value is taken as UTC already).

    RFC 3339 allows offsets up to ±23:59 and Python parses them, but PostgreSQL refuses one beyond
    ±15:59 (a 500 on ``?until=2026-01-01T00:00:00-16:34``): no parsed offset may reach the database.
    Raises ValueError when UTC cannot hold the instant (early on 0001-01-01 with a positive offset,
    late on 9999-12-31 with a negative one).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("This instant is outside the years 1-9999 in UTC.") from None


class UTCDateTimeField(serializers.DateTimeField):
    """Every date-time the API reads: RFC 3339 (``T`` and ``Z`` in either case), as the instant in UTC.

    DRF converts with ``default_timezone`` (as as_utc does for filters) and answers 400 "Datetime value
    out of range." where as_utc raises, whatever time zone is active.
    """

    def __init__(self, **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)

    def to_internal_value(self, value):
        if isinstance(value, str):
            value = value.upper()  # RFC 3339, 5.6: "t" and "z" may be lower case
        return super().to_internal_value(value)


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


MAX_JSON_DEPTH = 32
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_problem(value) -> str | None:
    """Why PostgreSQL's jsonb (or we) refuse this value, walking it without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"Nested deeper than {MAX_JSON_DEPTH} levels."
        if isinstance(item, str):
            if "\x00" in item:
                return "Text in this object may not contain NUL (\\u0000) characters."
            if _LONE_SURROGATE.search(item):
                return "Text in this object may not contain lone surrogates (\\ud800-\\udfff): not valid Unicode."
        elif isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return None


@extend_schema_field(
    {
        "type": "object",
        "propertyNames": {"pattern": NO_NUL},
        "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
    }
)
class JSONObjectField(serializers.DictField):
    """A free-form JSON object (settings, stats, metadata) that PostgreSQL's jsonb can store.

    jsonb has no NUL character (``\\u0000``) and takes only valid Unicode: either anywhere, key or
    value, is a 400 instead of a 500 (DRF's CharField refuses both in plain text fields already);
    so is nesting deeper than MAX_JSON_DEPTH (settings are not a place for a deep tree).
    """

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        problem = _json_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class ClosedSerializer(serializers.Serializer):
    """An object that takes only the fields it declares: any other key is a 400 naming it (DRF would
    silently drop it, so a misspelt setting would look saved). The schema says ``additionalProperties:
    false`` (agentwise.api.schema), so clients and the fuzzer know."""

    unknown_message = "Unknown field."

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = {key: [self.unknown_message] for key in data if key not in self.fields}
            if unknown:
                raise serializers.ValidationError(unknown)
        return super().to_internal_value(data)
