"""Deleting an account: one service for the page, the API and the admin (docs/privacy.md, "Deletion").

The user row is deleted, not kept as a placeholder: everything that must outlive it (chat messages,
forum topics and replies, audit rows, moderation decisions, executions in others' projects) points to
it with ``on_delete=SET_NULL`` and shows "deleted user"; everything that is only the user's goes with it
by CASCADE (profile, keys, notifications, allauth's addresses, social accounts, 2FA and session records).
What neither covers (files in storage, the newsletter, Stripe, the audit log's text, open sockets and
sessions) is handled here, each by its own app's function.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from importlib import import_module

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from agentwise.access import can, require

from . import events
from .credentials import API_KEY, SESSION, Credential, reauthentication_refusal
from .models import User

logger = logging.getLogger(__name__)

REASON_MAX_CHARS = 1000


def deletion_pseudonym(user_id) -> str:
    """The id the audit log keeps for a deleted account: an HMAC of its id, so whoever knows the id (the
    person, a support request) can check a record, and nobody can go back from the record to the person."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"account-deletion:{user_id}".encode(), hashlib.sha256)
    return "deleted-" + digest.hexdigest()[:32]


@dataclass
class DeletionPreview:
    """What the confirmation page lists: the projects that would go, and what the user wrote."""

    owned_projects: list = field(default_factory=list)  # (project, accepted collaborator count)
    messages: int = 0
    forum_posts: int = 0
    forum_replies: int = 0
    has_billing: bool = False


def deletion_preview(*, user: User) -> DeletionPreview:
    from django.db.models import Count, Q

    from community.models import ForumPost, ForumReply, Message
    from projects.models import Project, ProjectStatus

    projects = (
        Project.objects.filter(user=user).exclude(status=ProjectStatus.DELETED)
        .annotate(members=Count("collaborators", filter=Q(collaborators__accepted_at__isnull=False)))
        .order_by("name")
    )
    return DeletionPreview(
        owned_projects=[(project, project.members) for project in projects],
        messages=Message.objects.filter(user=user, deleted_at__isnull=True).count(),
        forum_posts=ForumPost.objects.filter(author=user).count(),
        forum_replies=ForumReply.objects.filter(author=user, deleted_at__isnull=True).count(),
        has_billing=bool(user.profile.stripe_customer_id),
    )


def user_addresses(user: User) -> tuple[list[str], list[str]]:
    """(owned, claimed): the addresses the user proved are theirs (the account's and verified ones), and
    every address they claimed. What the person owns (newsletter, invitations) is removed for the owned
    ones only: an unverified claim may be someone else's address, who must not be unsubscribed by it.
    Their own trail (outbox, audit log) is cleaned of every claimed one."""
    from allauth.account.models import EmailAddress

    rows = list(EmailAddress.objects.filter(user=user).values_list("email", "verified"))
    owned = {user.email.lower()} | {email.lower() for email, verified in rows if verified}
    claimed = owned | {email.lower() for email, _ in rows}
    return sorted(e for e in owned if e), sorted(e for e in claimed if e)


def _session_keys(user: User) -> list[str]:
    from allauth.usersessions.models import UserSession

    return list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))


def account_delete(
    *, actor: User, user: User, remove_content: bool, reason: str = "", credential: Credential | None = None
) -> str:
    """Deletes ``user``'s account at once and returns the pseudonym its audit record carries.

    The user themselves (from a browser session re-authenticated within allauth's window — the password
    asked again, as allauth's ``reauthentication_required`` does on the page — never with an API key), or
    staff (the admin action, with a reason). Stripe first: the live
    subscriptions are canceled before anything here changes, so Stripe being unreachable (503
    ``billing_unavailable``) leaves the account whole, to be deleted on a retry — never half deleted while
    still being charged. Then, in one transaction: projects, invitations and memberships; community uploads
    (and, with ``remove_content``, what the user wrote, as tombstones); the newsletter (a hash kept in the
    suppression list); the local Stripe records; the audit log rewritten under the pseudonym; the user row.
    After commit: sessions signed out, sockets closed (4401), files removed from storage, broadcasts.
    """
    from billing import services as billing
    from community.services import user_content_forget
    from content.newsletter.services import newsletter_forget
    from moderation.audit import audit_forget, audit_row
    from moderation.reports import reports_forget_user
    from projects.services import projects_forget_user

    require(actor, "accounts.delete_account", user, hidden_unless="accounts.delete_account",
            message="You can only delete your own account.")
    if actor.pk == user.pk:
        require(actor, "accounts.delete_own_account_via", credential,
                message="An account can only be deleted from a signed-in browser session, not with an API key.")
        if not can(actor, "accounts.delete_own_account_now", credential):
            raise reauthentication_refusal(
                "Confirm it is you: sign in again to delete your account.", then="account_delete"
            )
    reason = (reason or "").strip()[:REASON_MAX_CHARS]
    by_staff = actor.pk != user.pk
    pseudonym = deletion_pseudonym(user.pk)

    canceled = billing.subscriptions_cancel_for_deletion(user=user)  # may raise BillingUnavailable: nothing done

    with transaction.atomic():
        user = User.objects.select_for_update(of=("self",)).select_related("profile").filter(pk=user.pk).first()
        if user is None:  # a concurrent request (a double click) deleted it while this one waited
            return pseudonym
        user_id = user.pk
        session_keys = _session_keys(user)
        key_ids = list(user.api_keys.values_list("pk", flat=True))
        avatar = user.profile.avatar.name if user.profile.avatar else ""
        # Data exports: the rows cascade with the user, their zips in storage would not.
        export_files = list(user.data_exports.exclude(file_path="").values_list("file_path", flat=True))
        owned_addresses, claimed_addresses = user_addresses(user)

        projects = projects_forget_user(user=user, emails=owned_addresses)
        community = user_content_forget(user=user, remove_content=remove_content)
        newsletter = newsletter_forget(user=user, emails=owned_addresses)
        billing.customer_records_forget(user=user)
        for address in claimed_addresses:
            _outbox_forget(address)
        reports_forget_user(user=user, pseudonym=pseudonym, remove_content=remove_content)
        audit_forget(user=user, pseudonym=pseudonym, emails=claimed_addresses)

        from django.contrib.sessions.models import Session

        Session.objects.filter(session_key__in=session_keys).delete()
        for key_id in key_ids:
            events.credential_ended(credential=Credential(kind=API_KEY, id=str(key_id)))
        for session_key in session_keys:
            events.credential_ended(credential=Credential(kind=SESSION, id=session_key))
        events.user_ended(user_id=user_id)

        user.delete()
        record = audit_row(
            "account.delete",
            actor=actor if by_staff else None,
            resource_type="accounts.user",
            resource_id=pseudonym,
            metadata={
                "by": "staff" if by_staff else "self",
                "reason": reason,
                "remove_content": remove_content,
                "projects_deleted": projects["projects_deleted"],
                "collaborators_told": projects["collaborators_told"],
                "memberships_removed": projects["memberships_removed"],
                "messages_removed": community["messages"],
                "forum_posts_removed": community["forum_posts"],
                "forum_replies_removed": community["forum_replies"],
                "files_removed": len(community["files"]) + bool(avatar),
                "newsletter_rows_removed": newsletter,
                "subscriptions_canceled": len(canceled),
            },
        )
        if not by_staff:  # the person's own address and browser would identify them
            record.ip_address, record.user_agent = None, ""
        record.save(force_insert=True)
        files = [*community["files"], *([avatar] if avatar else []), *export_files]
        transaction.on_commit(lambda: _after_commit(session_keys=session_keys, files=files))
    return pseudonym


def _outbox_forget(email: str) -> int:
    """Emails to the address not sent yet are not sent; sent ones keep no copy of it (the outbox keeps
    rows for ops, and the address is all that would name the person). Matched as a whole address among
    the recipients: ``ada@example.com`` never removes mail to ``bada@example.com``."""
    from email.utils import getaddresses

    from agentwise.models import OutboundEmail

    if not email:
        return 0
    email = email.lower()
    candidates = OutboundEmail.objects.filter(to__icontains=email) | OutboundEmail.objects.filter(
        cc__icontains=email) | OutboundEmail.objects.filter(bcc__icontains=email)
    ids = [
        row.pk for row in candidates.only("pk", "to", "cc", "bcc")
        if email in {address.lower() for _, address in getaddresses([*row.to, *row.cc, *row.bcc])}
    ]
    deleted, _ = OutboundEmail.objects.filter(pk__in=ids).delete()
    return deleted


def _after_commit(*, session_keys: list[str], files: list[str]) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for session_key in session_keys:
        store(session_key).delete()  # the cached copy too (cached_db)
    for name in files:
        try:
            default_storage.delete(name)
        except OSError:  # already gone, or storage down: the sweep of orphans is ops' job then
            logger.warning("Could not delete %s of a deleted account", name)


def request_signed_out(request) -> None:
    """Ends the deleting browser's own session too. The user row is gone, so the sign-out is anonymous:
    nothing (the audit log's ``auth.logout``) is recorded against an account that no longer exists."""
    from django.contrib.auth import logout
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    logout(request)
