"""Filter conventions shared by every list endpoint."""

from django_filters import rest_framework as filters


class StrictFilterSet(filters.FilterSet):
    """A filter given with an empty value is an error, not silently ignored (``?status=`` is a typo)."""

    def is_valid(self):
        valid = super().is_valid()
        for name in self.filters:
            if name in self.data and self.data.get(name) == "":
                self.form.add_error(name, "This filter needs a value; leave it out to not filter.")
                valid = False
        return valid
