"""Validation of public handles."""

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,48}[A-Za-z0-9]$")

# Handles that would read as the platform speaking, or collide with URL segments.
RESERVED_USERNAMES = frozenset(
    """
    admin administrator root staff support help security abuse moderator mod system agentwise api
    www mail email account accounts login logout signup settings me u users static media ws
    healthz readyz docs blog pricing community projects billing null undefined anonymous
    """.split()
)


@deconstructible
class UsernameValidator:
    message = (
        "Use 3–50 letters, digits, '-' or '_', starting and ending with a letter or digit."
    )

    def __call__(self, value: str) -> None:
        if not USERNAME_RE.match(value or ""):
            raise ValidationError(self.message, code="invalid_username")
        if value.lower() in RESERVED_USERNAMES:
            raise ValidationError("This username is reserved.", code="reserved_username")

    def __eq__(self, other):
        return isinstance(other, UsernameValidator)
