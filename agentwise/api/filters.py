"""Filter conventions shared by every list endpoint."""

from django_filters import rest_framework as filters


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
