"""Hooks into allauth: an invitation sent to an address with no account binds when that address is
confirmed (by a new sign-up, or an existing user adding it)."""

from allauth.account.signals import email_confirmed

from . import services


def _on_email_confirmed(sender, request, email_address, **kwargs):
    services.invitations_bind(user=email_address.user, email=email_address.email)


def connect() -> None:
    email_confirmed.connect(_on_email_confirmed, dispatch_uid="projects.invitations_bind")
