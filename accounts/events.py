"""Realtime group names for accounts, and telling open sockets that access changed.

Every socket joins its user's group and its credential's group. When access may have ended — a key
revoked, a session signed out or invalidated, a user deactivated or demoted — the service announces
it after commit, and each socket concerned re-decides from the database (closing with 4401 if its
credential no longer holds). Announcing is cheap and safe to over-do: a socket whose access still
holds simply carries on.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group_name(user_id) -> str:
    """The Channels group every websocket of one user joins."""
    return f"user.{user_id}"


def credential_group(credential) -> str:
    """The Channels group of every websocket opened with one session or API key."""
    return credential.group


def _announce(group: str, *, ended: bool) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, {"type": "access.changed", "ended": ended})


def access_changed(*, user_id=None, credential=None) -> None:
    """After commit, makes the user's sockets (or only the credential's) decide their access again."""
    groups = []
    if user_id is not None:
        groups.append(user_group_name(user_id))
    if credential is not None:
        groups.append(credential_group(credential))

    def announce():
        for group in groups:
            _announce(group, ended=False)

    transaction.on_commit(announce)


def credential_ended(*, credential) -> None:
    """After commit, closes the credential's sockets (4401) without asking the database: the key is
    revoked or the session signed out — Django signs a session out *after* saying so, so a socket
    asking the session store at once could still find it."""
    transaction.on_commit(lambda: _announce(credential_group(credential), ended=True))


def credential_moved(*, credential, new_id: str) -> None:
    """After commit, tells the credential's sockets that it continues under ``new_id``."""

    def announce():
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(credential_group(credential), {"type": "access.moved", "id": new_id})

    transaction.on_commit(announce)


def user_ended(*, user_id) -> None:
    """After commit, closes every socket of the user (4401) without asking the database: the account
    is deleted, every session and key with it."""
    transaction.on_commit(lambda: _announce(user_group_name(user_id), ended=True))
