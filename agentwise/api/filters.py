"""Filter conventions shared by every list endpoint."""

from django import forms
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from agentwise.api.fields import as_utc


class StrictFilterSet(filters.FilterSet):
    """A filter given empty or twice is an error, not silently ignored (``?status=`` is a typo)."""

    def is_valid(self):
        valid = super().is_valid()
        for name in self.filters:
            if name not in self.data:
                continue
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data.get(name)]
            if len(values) > 1:
                self.form.add_error(name, "Give this filter once.")
                valid = False
            elif not str(values[0]).strip():
                self.form.add_error(name, "This filter needs a value; leave it out to not filter.")
                valid = False
        return valid


class UTCDateTimeFormField(IsoDateTimeField):
    """django-filter's ISO 8601 field, handing the ORM the UTC instant (never the client's offset)."""

    def to_python(self, value):
        if isinstance(value, str):
            value = value.upper()  # RFC 3339 allows "t" and "z"
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return as_utc(value)
        except ValueError as error:
            raise forms.ValidationError(str(error), code="overflow") from None


class UTCDateTimeFilter(filters.IsoDateTimeFilter):
    """Every date-time filter: RFC 3339, compared as the instant in UTC (see agentwise.api.fields.as_utc)."""

    field_class = UTCDateTimeFormField
