"""Object lookups for API views."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404


def get_or_404(queryset, **lookup):
    """``queryset.get(**lookup)``; a missing object or a malformed id (e.g. not a UUID) is a 404."""
    try:
        return queryset.get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError, DjangoValidationError):
        raise Http404 from None
