"""Serializer fields that take JSON types at their word (DRF's CharField would turn 42 into "42")."""

from rest_framework import serializers


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


class StrictURLField(StrictStringMixin, serializers.URLField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false (DRF would also take 0, 1, "yes", "on"…)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """Only JSON integers (DRF would also take "5" and 5.0)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)
