"""JSON for records that must never fail to write (audit metadata, data exports)."""

from django.core.serializers.json import DjangoJSONEncoder


class LenientJSONEncoder(DjangoJSONEncoder):
    """Dates, UUIDs and decimals as DjangoJSONEncoder writes them; anything else as its text, rather than
    losing an audit row or an export to a TypeError."""

    def default(self, o):
        try:
            return super().default(o)
        except TypeError:
            return str(o)
