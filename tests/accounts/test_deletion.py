"""Deleting an account (accounts.deletion.account_delete) through its three doors: the page, the API and
the admin action; and what it leaves behind — nothing that names the address."""

import hashlib
import time
from io import BytesIO

import pytest
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.apps import apps
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from djstripe.models import Customer
from rest_framework.test import APIClient

from accounts.deletion import deletion_pseudonym
from accounts.models import ApiKey, Notification, Profile, User
from accounts.notifications import notification_send
from agentwise.models import OutboundEmail
from billing.services import subscription_state_sync
from community import services as community
from community.models import Channel, ChannelMember, ChannelType, ForumPost, ForumReply, Message
from content.models import Delivery, NewsletterSuppression, Subscriber, SubscriberSource
from content.newsletter import services as newsletter
from moderation.audit import audit_record
from moderation.models import AuditLog
from projects import services as projects
from projects.models import Project, ProjectCollaborator
from tests.billing.conftest import stripe_customer_for, subscription
from tests.factories import (
    TEST_PASSWORD,
    CampaignFactory,
    StaffFactory,
    SubscriberFactory,
    UserFactory,
    make_api_key,
    sign_in,
)

pytestmark = pytest.mark.django_db


def _png() -> bytes:
    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (2, 2), "blue").save(buffer, format="PNG")
    return buffer.getvalue()


def _age_sign_in(client, seconds: int) -> None:
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [{"method": "password", "at": time.time() - seconds}]
    session.save()


def _session(user, client_class=APIClient, *, reauthenticated=True):
    """A browser session signed in (and, unless told, re-authenticated: the password asked again, as
    allauth records it) just now; its first page view records it among the user's sessions."""
    client = sign_in(client_class(enforce_csrf_checks=False), user)
    if reauthenticated:
        session = client.session
        session[AUTHENTICATION_METHODS_SESSION_KEY] = [
            *session[AUTHENTICATION_METHODS_SESSION_KEY],
            {"method": "password", "at": time.time(), "reauthenticated": True},
        ]
        session.save()
    client.get("/account/security/")
    return client


def _gone(user) -> bool:
    return not User.objects.filter(pk=user.pk).exists()


# --- the page ---------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_by_the_page(client):
    for method in (client.get, client.post):
        response = method("/account/delete/")
        assert response.status_code == 302 and response["Location"].startswith("/account/login/")


def test_the_page_asks_to_sign_in_again_first_then_the_confirmed_post_resumes(user):
    client = _session(user, Client, reauthenticated=False)  # signed in just now is not enough
    for response in (client.get("/account/delete/"), client.post("/account/delete/", {"confirm": "on"})):
        assert response.status_code == 302 and response["Location"].startswith("/account/reauthenticate/")
    assert not _gone(user)
    # allauth asks for the password, then resumes the suspended confirmed POST
    resumed = client.post("/account/reauthenticate/?next=/account/delete/", {"password": TEST_PASSWORD}, follow=True)
    assert resumed.status_code == 200 and "Your account is deleted" in resumed.content.decode()
    assert _gone(user)


def test_a_reauthentication_expires(user):
    client = _session(user, Client)
    assert client.get("/account/delete/").status_code == 200
    _age_sign_in(client, 3600)  # the last re-authentication an hour ago: asked again
    assert client.get("/account/delete/").status_code == 302


def test_the_page_explains_and_lists_owned_projects_with_a_transfer_link(user, other_user):
    project = projects.project_create(actor=user, data={"name": "Apollo"})
    invitation = projects.collaborator_invite(actor=user, project=project, invitee=other_user, role="editor")
    projects.invitation_accept(actor=other_user, invitation=invitation)
    client = _session(user, Client)
    page = client.get("/account/delete/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Apollo" in html and f"/projects/{project.pk}/#collaborators" in html
    assert "deleted user" in html and "Transfer ownership" in html


def test_the_page_needs_the_box_ticked(user):
    client = _session(user, Client)
    response = client.post("/account/delete/", {})
    assert response.status_code == 200 and "Tick the box to confirm." in response.content.decode()
    assert not _gone(user)


def test_the_page_deletes_and_signs_out(user):
    client = _session(user, Client)
    other_browser = _session(user, Client)
    response = client.post("/account/delete/", {"confirm": "on"})
    assert response.status_code == 200 and "Your account is deleted" in response.content.decode()
    assert _gone(user)
    for browser in (client, other_browser):  # every session is signed out
        assert browser.get("/account/").status_code == 302


def test_the_page_post_needs_the_csrf_token(user):
    client = sign_in(Client(enforce_csrf_checks=True), user)
    assert client.post("/account/delete/", {"confirm": "on"}).status_code == 403
    assert not _gone(user)


def test_make_owner_on_the_project_page_transfers_it(user, other_user):
    project = projects.project_create(actor=user, data={"name": "Apollo"})
    invitation = projects.collaborator_invite(actor=user, project=project, invitee=other_user, role="viewer")
    projects.invitation_accept(actor=other_user, invitation=invitation)
    stranger = UserFactory()
    assert _session(other_user, Client).post(f"/projects/{project.pk}/collaborators/{invitation.pk}/",
                                             {"transfer": "1"}).status_code == 403  # only the owner
    assert _session(stranger, Client).post(f"/projects/{project.pk}/collaborators/{invitation.pk}/",
                                           {"transfer": "1"}).status_code == 404
    response = _session(user, Client).post(f"/projects/{project.pk}/collaborators/{invitation.pk}/", {"transfer": "1"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.user_id == other_user.pk
    # then deleting the former owner keeps the project
    _session(user, Client).post("/account/delete/", {"confirm": "on"})
    assert _gone(user) and Project.objects.filter(pk=project.pk, user=other_user).exists()


# --- the API ----------------------------------------------------------------------------------------


def test_api_anonymous_gets_401(api_client):
    response = api_client.delete("/api/me/")
    assert response.status_code == 401


def test_api_key_can_never_delete_the_account(user):
    key = make_api_key(user)[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.delete("/api/me/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert not _gone(user)


@pytest.mark.parametrize("age", [0, 3600])
def test_api_session_not_reauthenticated_gets_403_reauthentication_required(user, age):
    client = _session(user, reauthenticated=False)
    _age_sign_in(client, age)  # a sign-in, even a fresh one, is not a re-authentication
    response = client.delete("/api/me/")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "reauthentication_required"
    assert error["reauthenticate_url"].startswith("/account/reauthenticate/")
    assert not _gone(user)


def test_api_bad_flag_is_400(user):
    response = _session(user).delete("/api/me/?remove_content=yes")
    assert response.status_code == 400 and "remove_content" in response.json()["error"]["fields"]
    assert not _gone(user)


def test_api_deletes_only_the_callers_account_and_its_key_then_answers_401(user, other_user):
    key = make_api_key(user)[1]
    others_key = make_api_key(other_user)[1]
    staff = StaffFactory()
    response = _session(user).delete("/api/me/")
    assert response.status_code == 204
    assert _gone(user) and not _gone(other_user) and not _gone(staff)
    for raw, expected in ((key, 401), (others_key, 200)):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert client.get("/api/me/").status_code == expected
    assert not ApiKey.objects.filter(user_id=user.pk).exists()


def test_staff_deleting_through_the_api_delete_their_own_account_only(other_user):
    staff = StaffFactory()
    assert _session(staff).delete("/api/me/").status_code == 204
    assert _gone(staff) and not _gone(other_user)


def test_api_session_needs_csrf(user):
    client = sign_in(APIClient(enforce_csrf_checks=True), user)
    response = client.delete("/api/me/")
    assert response.status_code == 403
    assert not _gone(user)


# --- the admin --------------------------------------------------------------------------------------


def _admin_action(client, users, **data):
    return client.post(
        "/admin/accounts/user/",
        {"action": "delete_accounts", "_selected_action": [str(u.pk) for u in users], **data},
    )


def test_staff_delete_from_the_admin_with_a_reason_and_it_is_audited(user, other_user):
    staff = StaffFactory(is_superuser=True)
    client = sign_in(Client(), staff)
    form = _admin_action(client, [user])
    assert form.status_code == 200 and "reason" in form.content.decode()  # the intermediate page
    assert not _gone(user)
    done = _admin_action(client, [user], reason="GDPR request #42", remove_content="on")
    assert done.status_code == 302
    assert _gone(user) and not _gone(other_user)
    record = AuditLog.objects.get(action="account.delete")
    assert record.actor_id == staff.pk
    assert record.resource_id == deletion_pseudonym(user.pk)
    assert record.metadata["reason"] == "GDPR request #42" and record.metadata["by"] == "staff"
    assert record.metadata["remove_content"] is True


def test_the_admin_has_no_plain_delete_for_users(user):
    staff = StaffFactory(is_superuser=True)
    client = sign_in(Client(), staff)
    changelist = client.get("/admin/accounts/user/").content.decode()
    assert 'value="delete_selected"' not in changelist and 'value="delete_accounts"' in changelist
    assert client.post(f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"}).status_code == 403
    assert not _gone(user)


def test_non_staff_cannot_reach_the_admin_action(user, other_user):
    client = sign_in(Client(), other_user)
    response = _admin_action(client, [user], reason="because")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not _gone(user)


def test_staff_without_superuser_cannot_delete_a_superuser():
    from accounts.deletion import account_delete
    from agentwise.errors import NotFound

    staff, root = StaffFactory(), StaffFactory(is_superuser=True)
    with pytest.raises(NotFound):
        account_delete(actor=staff, user=root, remove_content=False, reason="no")
    assert not _gone(root)


def test_another_user_cannot_delete_someone_else(user, other_user):
    from accounts.credentials import Credential
    from accounts.deletion import account_delete
    from agentwise.errors import NotFound

    with pytest.raises(NotFound):
        account_delete(actor=other_user, user=user, remove_content=False, credential=Credential.console())
    assert not _gone(user)


# --- what it does -----------------------------------------------------------------------------------


@pytest.fixture
def rich(user, other_user, settings, django_capture_on_commit_callbacks):
    """A user with a bit of everything: a profile with an avatar, keys, a social account, a session,
    projects (owned with a collaborator, joined, invitations both ways), community content and files,
    newsletter subscription and delivery, audit rows and outbox emails naming the address."""
    user.profile.full_name = "Ada Lovelace"
    user.profile.bio = f"Write to me at {user.email}"
    user.profile.avatar = SimpleUploadedFile("me.png", _png(), content_type="image/png")
    user.profile.save()
    SocialAccount.objects.create(user=user, provider="github", uid="12345", extra_data={"email": user.email})
    EmailAddress.objects.create(user=user, email="ada.work@example.org", verified=True, primary=False)
    EmailAddress.objects.create(user=user, email="not-hers@example.org", verified=False, primary=False)
    SubscriberFactory(email="ada.work@example.org")  # her second, proven, address: removed too
    SubscriberFactory(email="not-hers@example.org")  # only claimed: its owner's subscription stays
    audit_record("support.note", metadata={"cc": "ADA.WORK@example.org"})
    make_api_key(user, name="laptop")

    owned = projects.project_create(actor=user, data={"name": "Owned"})
    invitation = projects.collaborator_invite(actor=user, project=owned, invitee=other_user, role="editor")
    projects.invitation_accept(actor=other_user, invitation=invitation)
    pending_sent = projects.collaborator_invite(actor=user, project=owned, email="friend@example.net", role="viewer")
    theirs = projects.project_create(actor=other_user, data={"name": "Theirs"})
    joined = projects.collaborator_invite(actor=other_user, project=theirs, invitee=user, role="viewer")
    projects.invitation_accept(actor=user, invitation=joined)
    third = projects.project_create(actor=other_user, data={"name": "Third"})
    by_email = projects.collaborator_invite(actor=other_user, project=third, email=user.email.upper(), role="viewer")

    public = Channel.objects.create(name="general", category="Community")
    private = Channel.objects.create(name="inner", category="Community", is_private=True)
    ChannelMember.objects.create(channel=private, user=user)
    forum = Channel.objects.create(name="help", category="Forum", type=ChannelType.FORUM)
    attachment = community.attachment_upload(actor=user, upload=SimpleUploadedFile("dot.png", _png(), content_type="image/png"))
    message = community.message_post(actor=user, channel=public, content="Hello from Ada", attachment_ids=[str(attachment.pk)])
    community.message_edit(actor=user, message=message, content="Hello from Ada, edited")
    answer = community.message_post(actor=other_user, channel=public, content="Hi Ada", parent=message)
    topic = community.forum_post_create(actor=user, channel=forum, title="Budgets?", content="How do I cap tokens?")
    others_reply = community.forum_reply_create(actor=other_user, post=topic, content="Set a budget.")
    others_topic = community.forum_post_create(actor=other_user, channel=forum, title="Intro", content="Hi all")
    reply = community.forum_reply_create(actor=user, post=others_topic, content="Welcome!")

    subscriber = SubscriberFactory(email=user.email, user=user)
    campaign = CampaignFactory()
    Delivery.objects.create(campaign=campaign, subscriber=subscriber, email=user.email)
    audit_record("support.note", actor=other_user, metadata={"about": user.email, "username": user.username,
                                                             "user_id": str(user.pk)})
    notification_send(user=user, kind="mention", title="Someone mentioned you", email=True)
    OutboundEmail.objects.create(kind="test", from_email="noreply@agentwise.test", to=[user.email], subject="Hi")
    return {
        "owned": owned, "theirs": theirs, "third": third, "pending_sent": pending_sent, "by_email": by_email,
        "private": private, "message": message, "answer": answer, "topic": topic, "others_reply": others_reply,
        "others_topic": others_topic, "reply": reply, "attachment_file": attachment.file.name,
        "avatar_file": user.profile.avatar.name,
    }


def _rows_naming(text: str) -> list[str]:
    """Every row of every table of every installed app (and Django's sessions) whose text contains
    ``text``: each model's table scanned as a whole row cast to text (PostgreSQL), so text, char, email
    and JSON columns alike; session data is decoded first (it is stored encoded)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.sessions.models import Session

    found = []
    tables = {model._meta.db_table for model in apps.get_models(include_auto_created=True) if model._meta.managed}
    with connection.cursor() as cursor:
        for table in sorted(tables):
            quoted = connection.ops.quote_name(table)
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT count(*) FROM {quoted} AS t WHERE t::text ILIKE %s", [f"%{text}%"])
                if cursor.fetchone()[0]:
                    found.append(table)
            else:  # SQLite: each text-like column
                model = next(m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table)
                text_fields = [f for f in model._meta.concrete_fields if f.get_internal_type() in (
                    "CharField", "TextField", "EmailField", "JSONField", "URLField")]
                if any(model._base_manager.filter(**{f"{f.attname}__icontains": text}).exists() for f in text_fields):
                    found.append(table)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    for row in Session.objects.all():
        if text.lower() in str(store.decode(row.session_data)).lower():
            found.append(f"session {row.session_key[:6]}…")
    return found


def test_before_deleting_the_scan_finds_the_address_everywhere(rich, user):
    """The scan works: before the deletion it finds the address in each place it is kept."""
    _session(user)
    assert "newsletter_subscribers" in _rows_naming("ada.work@example.org")
    found = set(_rows_naming(user.email))
    assert {"accounts_user", "account_emailaddress", "socialaccount_socialaccount", "newsletter_subscribers",
            "newsletter_deliveries", "audit_logs", "agentwise_outboundemail", "projects_projectcollaborator",
            "accounts_profile"} <= found, found
    assert any(entry.startswith("session") for entry in found)


def test_deleting_leaves_no_row_naming_the_address(rich, user, django_capture_on_commit_callbacks):
    email, username = user.email, user.username
    client = _session(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/me/").status_code == 204
    assert _rows_naming(email) == []
    assert _rows_naming("ada.work@example.org") == []
    assert Subscriber.objects.filter(email="not-hers@example.org").exists()
    assert not newsletter.newsletter_suppressed("not-hers@example.org")
    # the audit log keeps nothing naming the person: not the address, the handle as a value, nor the id
    for row in AuditLog.objects.all():
        text = str(row.metadata) + row.resource_id
        assert str(user.pk) not in text and email not in text.lower()
        assert username not in [value for value in row.metadata.values() if isinstance(value, str)]


def test_what_they_wrote_stays_as_deleted_user(rich, user, other_user):
    client = _session(user)
    assert client.delete("/api/me/").status_code == 204
    message = Message.objects.get(pk=rich["message"].pk)
    assert message.user_id is None and message.content == "Hello from Ada, edited" and message.deleted_at is None
    assert message.attachments == []  # the file is gone from storage
    assert ForumPost.objects.get(pk=rich["topic"].pk).author_id is None
    assert ForumReply.objects.get(pk=rich["reply"].pk).content == "Welcome!"
    reader = _session(other_user)
    history = reader.get(f"/api/community/channels/{message.channel_id}/messages/").json()
    shown = next(m for m in history["results"] if m["id"] == str(message.pk))
    assert shown["user"] is None and shown["content"] == "Hello from Ada, edited"
    topic_page = Client().get(rich["topic"].get_absolute_url(), follow=True).content.decode()
    assert "deleted user" in topic_page and "Ada Lovelace" not in topic_page


def test_remove_content_leaves_tombstones(rich, user, django_capture_on_commit_callbacks):
    client = _session(user)
    with django_capture_on_commit_callbacks(execute=True):  # the broadcasts run, after the user row is gone
        assert client.delete("/api/me/?remove_content=true").status_code == 204
    message = Message.objects.get(pk=rich["message"].pk)
    assert message.deleted_at is not None and message.content == "" and not message.edits.exists()
    assert Message.objects.get(pk=rich["answer"].pk).content == "Hi Ada"  # others' replies stay
    reply = ForumReply.objects.get(pk=rich["reply"].pk)
    assert reply.deleted_at is not None and reply.content == ""
    topic = ForumPost.objects.get(pk=rich["topic"].pk)
    assert topic.title == "[deleted]" and topic.content == "" and topic.author_id is None
    assert ForumReply.objects.get(pk=rich["others_reply"].pk).content == "Set a budget."  # others' replies stay
    assert not Message.objects.filter(content__icontains="Ada, edited").exists()


def test_uploaded_files_are_removed_from_storage(rich, user, django_capture_on_commit_callbacks):
    assert default_storage.exists(rich["attachment_file"]) and default_storage.exists(rich["avatar_file"])
    client = _session(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/me/").status_code == 204
    assert not default_storage.exists(rich["attachment_file"])
    assert not default_storage.exists(rich["avatar_file"])


def test_projects_invitations_and_memberships(rich, user, other_user, django_capture_on_commit_callbacks):
    client = _session(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/me/").status_code == 204
    assert not Project.objects.filter(pk=rich["owned"].pk).exists()  # owned and not transferred: deleted
    assert Project.objects.filter(pk=rich["theirs"].pk).exists()
    assert not ProjectCollaborator.objects.filter(pk__in=[rich["pending_sent"].pk, rich["by_email"].pk]).exists()
    assert not ProjectCollaborator.objects.filter(project=rich["theirs"], user__isnull=True).exists()
    assert list(ProjectCollaborator.objects.filter(project=rich["theirs"])) == []
    notice = Notification.objects.get(user=other_user, kind="project_deleted")
    assert "Owned" in notice.title and user.username not in notice.body
    assert not ChannelMember.objects.filter(channel=rich["private"]).exists()
    assert any(other_user.email in m.to for m in mail.outbox)  # an immediate notice: emailed


def test_newsletter_unsubscribed_and_only_a_hash_kept(rich, user):
    email = user.email
    client = _session(user)
    assert client.delete("/api/me/").status_code == 204
    assert not Subscriber.objects.filter(email=email).exists() and not Delivery.objects.filter(email=email).exists()
    hashes = set(NewsletterSuppression.objects.values_list("email_sha256", flat=True))
    assert hashes == {hashlib.sha256(address.encode()).hexdigest() for address in (email, "ada.work@example.org")}
    assert newsletter.newsletter_suppressed(email.upper())
    # staff or a bulk path cannot add it back ...
    with pytest.raises(ValidationError):
        newsletter._get_or_create(email=email, source=SubscriberSource.ADMIN)
    # ... its owner can, by confirming a fresh sign-up (double opt-in), which lifts the suppression
    subscriber = newsletter.subscriber_subscribe(email=email, source=SubscriberSource.FORM)
    from content.newsletter.tokens import confirm_token

    newsletter.subscriber_confirm(token=confirm_token(subscriber_id=subscriber.pk, email=email))
    assert Subscriber.objects.get(email=email).status == "active"
    assert not newsletter.newsletter_suppressed(email)
    assert newsletter.newsletter_suppressed("ada.work@example.org")  # lifted only for the address confirmed


def test_the_same_email_and_username_sign_up_again_as_a_new_account(user, client, django_capture_on_commit_callbacks):
    email, username, old_pk = user.email, user.username, user.pk
    assert _session(user).delete("/api/me/").status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/account/signup/", {
            "email": email.upper(), "username": username, "password1": TEST_PASSWORD, "password2": TEST_PASSWORD,
        })
    assert response.status_code == 302 and response.url == "/account/confirm-email/"
    fresh = User.objects.get(email=email)
    assert fresh.pk != old_pk and fresh.username == username
    assert Profile.objects.get(user=fresh).full_name == ""
    assert EmailAddress.objects.filter(user=fresh, email__iexact=email).count() == 1
    assert any(m.subject == "Welcome to Agentwise!" and m.to == [email] for m in mail.outbox)


def test_the_audit_log_records_the_deletion_under_a_pseudonym_only(user):
    _session(user).delete("/api/me/", HTTP_USER_AGENT="Firefox/Ada", REMOTE_ADDR="203.0.113.7")
    record = AuditLog.objects.get(action="account.delete")
    assert record.actor_id is None and record.resource_id == deletion_pseudonym(user.pk)
    assert record.ip_address is None and record.user_agent == ""
    assert record.metadata["by"] == "self"
    assert deletion_pseudonym(user.pk) != deletion_pseudonym(UserFactory().pk)


# --- Stripe -----------------------------------------------------------------------------------------


def test_the_subscription_is_canceled_at_stripe_and_local_records_go(stripe_catalog, user):
    email = user.email
    customer_id = stripe_customer_for(stripe_catalog, user)
    sub = subscription(stripe_catalog, customer=customer_id)
    ended = subscription(stripe_catalog, customer=customer_id, status="canceled")
    subscription_state_sync(customer_id=customer_id)  # dj-stripe's local copies hold the address too
    assert _session(user).delete("/api/me/").status_code == 204
    assert stripe_catalog.get(sub["id"])["status"] == "canceled"
    deletes = [r["path"] for r in stripe_catalog.requests if r["method"] == "DELETE"]
    assert deletes == [f"/v1/subscriptions/{sub['id']}"]  # the already canceled one is left alone
    assert not Customer.objects.filter(id=customer_id).exists()
    assert ended["id"]
    assert _rows_naming(email) == []


def test_stripe_unreachable_deletes_nothing(stripe_catalog, user):
    customer_id = stripe_customer_for(stripe_catalog, user)
    subscription(stripe_catalog, customer=customer_id)
    make_api_key(user)
    stripe_catalog.fail_next("/v1/subscriptions", status=500, times=10)
    client = _session(user)
    response = client.delete("/api/me/")
    assert response.status_code == 503 and response.json()["error"]["code"] == "billing_unavailable"
    assert not _gone(user) and ApiKey.objects.filter(user=user).exists()
    assert not AuditLog.objects.filter(action="account.delete").exists()
    stripe_catalog.reset_failures()
    assert client.delete("/api/me/").status_code == 204  # a retry finishes it
    assert _gone(user)


def test_stripe_unreachable_on_the_page_says_so(stripe_catalog, user):
    customer_id = stripe_customer_for(stripe_catalog, user)
    subscription(stripe_catalog, customer=customer_id)
    stripe_catalog.fail_next("/v1/subscriptions", status=500, times=10)
    response = _session(user, Client).post("/account/delete/", {"confirm": "on"})
    assert response.status_code == 503 and "was not deleted" in response.content.decode()
    assert not _gone(user)


def test_a_free_user_is_deleted_without_asking_stripe(user, settings):
    settings.STRIPE_TEST_SECRET_KEY = ""  # billing not even configured
    assert _session(user).delete("/api/me/").status_code == 204


def test_staff_on_the_page_delete_their_own_account_only(other_user):
    staff = StaffFactory()
    response = _session(staff, Client).post("/account/delete/", {"confirm": "on"})
    assert response.status_code == 200
    assert _gone(staff) and not _gone(other_user)


def test_a_staff_deletion_of_themselves_from_the_admin_still_needs_reauthentication():
    staff = StaffFactory(is_superuser=True)
    client = sign_in(Client(), staff)  # signed in, not re-authenticated
    response = _admin_action(client, [staff], reason="leaving")
    assert response.status_code == 302
    assert not _gone(staff)


def test_deleting_twice_is_harmless(user):
    """A double click: the second request finds the account gone and answers as the first did."""
    from accounts.credentials import Credential
    from accounts.deletion import account_delete

    first = account_delete(actor=user, user=user, remove_content=False, credential=Credential.console())
    again = account_delete(actor=user, user=user, remove_content=False, credential=Credential.console())
    assert first == again == deletion_pseudonym(user.pk)
    assert AuditLog.objects.filter(action="account.delete").count() == 1


def test_nothing_of_a_longer_lookalike_address_is_touched(django_capture_on_commit_callbacks):
    """Deleting ada@example.com leaves bada@example.com's mail, audit rows and subscription alone."""
    ada = UserFactory(email="ada@example.com", username="ada")
    OutboundEmail.objects.create(kind="t", from_email="n@agentwise.test", to=["bada@example.com"], subject="Hi")
    OutboundEmail.objects.create(kind="t", from_email="n@agentwise.test", to=["Ada <ADA@example.com>"], subject="Hi")
    kept = audit_record("support.note", metadata={"about": "bada@example.com", "note": "ada"})
    SubscriberFactory(email="bada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert _session(ada).delete("/api/me/").status_code == 204
    assert list(OutboundEmail.objects.values_list("to", flat=True)) == [["bada@example.com"]]
    kept.refresh_from_db()
    assert kept.metadata["about"] == "bada@example.com"
    assert kept.metadata["note"] == deletion_pseudonym(ada.pk)  # the handle as a whole value
    assert Subscriber.objects.filter(email="bada@example.com").exists()
    assert _rows_naming("ada@example.com") == ["agentwise_outboundemail", "audit_logs", "newsletter_subscribers"]
