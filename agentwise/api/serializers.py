"""Serializer helpers shared by the API's apps."""

from django.utils.functional import cached_property
from rest_framework import serializers


# Builds and binds a serializer's fields once per class, not on every instantiation.
#
# DRF deep-copies every declared field for each serializer it creates, and a ModelSerializer also
# introspects the model to build the rest: about 30 field constructions per report-a-run POST, a large
# part of what the API adds over a bare view (docs/performance.md). The fields are shared, so only for a
# serializer whose fields keep no per-instance state and never read ``context`` (they see an empty one)
# or per-instance attributes of their parent. Validation errors and data stay on each instance, as usual.
# A partial serializer builds its own (its fields read ``partial`` from their root).
# (Comments, not a docstring: drf-spectacular would publish a docstring as every subclass's description.)
class FieldsBuiltOnce:
    @cached_property
    def fields(self):
        build = serializers.Serializer.fields.func
        if self.partial:
            return build(self)
        cls = type(self)
        fields = cls.__dict__.get("_fields_built_once")
        if fields is None:
            fields = build(cls())  # bound to a context-free instance of the same class
            cls._fields_built_once = fields
        return fields
