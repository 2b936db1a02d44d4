"""Every route in the URL conf, with every method, for every kind of principal: the expected status.

The routes are read from ``django.urls.get_resolver()`` (recursively, with the full pattern); each
(route, method) needs an entry in ``EXPECTED`` or a reason in ``EXCLUDED``, so a new route without an
entry fails ``test_every_route_has_an_entry``. One fixture world is built per module inside a
transaction that is rolled back at the end; each request runs in a savepoint that is rolled back, so a
DELETE by the owner does not change what the next principal sees.

Principals:
- ``anonymous``: no credentials.
- ``stranger``: a signed-in user with no relation to anything in the world.
- ``viewer``, ``editor``, ``owner``: of the project "Apollo" (the owner is on the Pro plan).
- ``member``: a member of the private channel; author of its message, of the forum topic and of the
  attachment.
- ``moderator``: ``is_staff`` in the "Moderators" group, not a superuser.
- ``staff``: ``is_staff`` and ``is_superuser`` (every Django model permission: the admin's top role).
- ``revoked``: a user whose only API key was revoked, calling with it: 401 on every API route. On pages
  a key means nothing, so that principal is anonymous there (not requested twice).

API principals send their API key (``Authorization: Bearer``), except on ``SESSION_ROUTES`` (minting an API
key needs a signed-in browser session); pages use a signed-in session.
"""

from __future__ import annotations

import re
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import DataExport, DataExportStatus
from accounts.notifications import notification_send
from community import services as community_services
from community.models import Channel, ChannelMember, ChannelType
from content import services as content_services
from content.newsletter.tokens import confirm_token, manage_token
from moderation.roles import MODERATORS
from projects import services as project_services
from tests.factories import StaffFactory, SubscriberFactory, UserFactory, make_api_key, sign_in

# Each test also runs in a transaction rolled back at its end, nested in the module's (see ``world``).
pytestmark = pytest.mark.django_db

PRINCIPALS = ["anonymous", "stranger", "viewer", "editor", "owner", "member", "moderator", "staff", "revoked"]
SIGNED_IN = ["stranger", "viewer", "editor", "owner", "member", "moderator", "staff"]
STAFF = ["moderator", "staff"]

# --- the routes ------------------------------------------------------------------------------------


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _api_methods(callback) -> list[str]:
    """A DRF view's methods: a viewset's bound actions, or an APIView's handlers."""
    actions = getattr(callback, "actions", None)
    if actions:
        # A viewset adds "head" to its actions on its first GET (DRF); HEAD and OPTIONS are not asked.
        return sorted(set(actions) - {"head", "options"})
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is None:
        return ["get", "post"]
    return sorted(m for m in cls.http_method_names if m not in ("options", "head") and hasattr(cls, m))


def _routes() -> dict[str, tuple[str, URLPattern]]:
    """{key: (full pattern, URLPattern)}; the key is the route's name, or its pattern where the name is
    missing or shared by several routes."""
    found = list(_walk(get_resolver().url_patterns))
    names = [p.name for _, p in found]
    routes = {}
    for full, pattern in found:
        key = pattern.name if pattern.name and names.count(pattern.name) == 1 else full
        routes.setdefault(key, (full, pattern))
    return routes


ROUTES = _routes()


def _module(pattern: URLPattern) -> str:
    return getattr(pattern.callback, "__module__", "") or ""


def _excluded_reason(key: str, full: str, pattern: URLPattern) -> str | None:
    if key in EXCLUDED:
        return EXCLUDED[key]
    for prefix, reason in EXCLUDED_PREFIXES.items():
        if full.startswith(prefix) and key not in ADMIN_INCLUDED:
            return reason
    for module, reason in EXCLUDED_MODULES.items():
        if _module(pattern).startswith(module):
            return reason
    return None


def exposed() -> set[tuple[str, str]]:
    """Every (route key, method) the URL conf exposes and the matrix must cover."""
    pairs = set()
    for key, (full, pattern) in ROUTES.items():
        if _excluded_reason(key, full, pattern):
            continue
        if full.startswith("api/"):
            methods = _api_methods(pattern.callback)
        elif key in ADMIN_INCLUDED:
            methods = ["get"]
        else:
            methods = ["get", "post"]  # a function view's methods cannot be read; both are asked
        pairs |= {(key, method) for method in methods}
    return pairs


# --- what is left out, and why ------------------------------------------------------------------------

EXCLUDED = {
    "api-schema": "the OpenAPI document: public, no data; tests/agentwise/test_api_fuzz.py holds the API to it",
    "api-docs": "Swagger UI over the schema: public, no data",
    "api-redoc": "ReDoc over the schema: public, no data",
    "healthz": "liveness probe, public by design (tests/agentwise/test_health.py)",
    "readyz": "readiness probe, public; details for staff only (tests/agentwise/test_health.py)",
    "account/signup/": "allauth's sign-up flow, wrapped (accounts.views.signup; tests/accounts/test_signup_and_login.py)",
    "stripe_webhook": "Stripe's signed webhook: no principal, the signature decides (tests/billing/test_webhooks.py)",
}
EXCLUDED_PREFIXES = {
    "admin/": "the admin's internals (add/change/delete/history of every model): Django's own permission "
    "checks; the index and a few changelists are in the matrix (ADMIN_INCLUDED)",
    "anymail/": "the email provider's webhooks: a shared secret decides, 404 until it is set "
    "(tests/content/test_newsletter_webhooks.py)",
    "account/social/": "allauth's redirects of its old social-account addresses to account/3rdparty/",
}
EXCLUDED_MODULES = {
    "allauth.": "allauth's sign-in, sign-up, password, email, 2FA, social and session flows "
    "(tests/accounts/test_signup_and_login.py, test_security.py, test_oauth.py)",
}
# The admin pages that are in the matrix: the index, and changelists whose access differs by role.
ADMIN_INCLUDED = {
    "index": "/admin/",
    "community_message_changelist": "/admin/community/message/",
    "moderation_moderationitem_changelist": "/admin/moderation/moderationitem/",
    "accounts_user_changelist": "/admin/accounts/user/",
    "accounts_apikey_changelist": "/admin/accounts/apikey/",
    "projects_project_changelist": "/admin/projects/project/",
    "djstripe_customer_changelist": "/admin/djstripe/customer/",
}

# Routes whose principals call with a signed-in session instead of their API key.
SESSION_ROUTES = {("api-key-list", "post"), ("api-me-export", "get"), ("api-me-export", "post")}

# --- the world ---------------------------------------------------------------------------------------


def _png() -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (2, 2), "red").save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


def _build_world(media_root: Path) -> dict:
    people = {
        name: UserFactory(username=name)
        for name in ("stranger", "viewer", "editor", "owner", "member", "revoked")
    }
    people["moderator"] = StaffFactory(username="moderator")
    people["moderator"].groups.add(Group.objects.get(name=MODERATORS))
    people["staff"] = StaffFactory(username="staff", is_superuser=True)
    owner, member, staff = people["owner"], people["member"], people["staff"]
    owner.profile.subscription_tier = "pro"
    owner.profile.save()

    project = project_services.project_create(actor=owner, data={"name": "Apollo", "type": "cli"})
    for role in ("viewer", "editor"):
        invitation = project_services.collaborator_invite(actor=owner, project=project, invitee=people[role], role=role)
        project_services.invitation_accept(actor=people[role], invitation=invitation)
    execution = project_services.execution_record(actor=owner, project=project, data={"agent_type": "codex"})[0]
    budget = project_services.budget_set(actor=owner, metric="tokens", monthly_limit=1000)

    public = Channel.objects.create(name="general", category="Community", position=0)
    private = Channel.objects.create(name="inner-circle", category="Community", is_private=True)
    ChannelMember.objects.create(channel=private, user=member)
    forum = Channel.objects.create(name="help", category="Forum", type=ChannelType.FORUM)
    with override_settings(MEDIA_ROOT=media_root):
        attachment = community_services.attachment_upload(
            actor=member, upload=SimpleUploadedFile("dot.png", PNG, content_type="image/png")
        )
    message = community_services.message_post(
        actor=member, channel=private, content="Inner circle only", attachment_ids=[str(attachment.pk)]
    )
    community_services.message_post(actor=owner, channel=public, content="Hello everyone")
    topic = community_services.forum_post_create(
        actor=member, channel=forum, title="How do I cap tokens?", content="Looking for a budget knob.", tags=["budgets"]
    )
    reply = community_services.forum_reply_create(actor=people["stranger"], post=topic, content="Set a budget.")
    council = Channel.objects.create(name="council", category="Forum", type=ChannelType.FORUM, is_private=True)
    ChannelMember.objects.create(channel=council, user=member)
    secret_topic = community_services.forum_post_create(
        actor=member, channel=council, title="Our plans", content="Members only."
    )
    secret_reply = community_services.forum_reply_create(actor=member, post=secret_topic, content="Agreed.")

    content_services.blog_post_create(
        actor=staff, fields={"title": "Launch", "content": [{"type": "paragraph", "text": "We launched."}],
                             "tags": ["news"]},
        status="published",
    )
    blog_post = content_services.blog_post_create(  # unpublished: staff may see it, everyone else gets a 404
        actor=staff, fields={"title": "Roadmap", "content": [{"type": "paragraph", "text": "Secret plans."}]},
    )
    docs_page = content_services.documentation_create(
        actor=staff, fields={"title": "Guide", "version": "2.0", "content": [{"type": "paragraph", "text": "Start."}]}
    )
    notification = notification_send(user=owner, kind="mention", title="Someone mentioned you")
    # The owner's data export, built today: its link downloads for the owner alone; a second request is a 429.
    export = DataExport.objects.create(user=owner, status=DataExportStatus.READY, finished_at=timezone.now(),
                                       expires_at=timezone.now() + timedelta(days=7))
    with override_settings(MEDIA_ROOT=media_root):
        export.file_path = default_storage.save(account_services.data_export_path(export), ContentFile(b"PK\x05\x06" + bytes(18)))
    export.save(update_fields=["file_path"])

    keys = {}
    for name, user in people.items():
        api_key, raw = make_api_key(user, name=f"{name}'s key")
        keys[name] = (api_key, raw)
    account_services.api_key_revoke(actor=people["revoked"], api_key=keys["revoked"][0])
    subscriber = SubscriberFactory(email="reader@example.org", status="pending", confirmed_at=None)

    values = {
        "project_id": str(project.pk),
        "pk": None,  # filled per route: the project, the execution, the budget, the key
        "user_id": str(people["viewer"].pk),
        "collaborator_id": str(people["viewer"].pk),
        "channel_id": str(private.pk),
        "message_id": str(message.pk),
        "post_id": str(topic.pk),
        "reply_id": str(reply.pk),
        "attachment_id": str(attachment.pk),
        "extension": "png",
        "username": "owner",
        "slug": blog_post.slug,
        "tag": "news",
        "version": "2.0",
        "path": f"{docs_page.slug}/",
        "section": "blog",
        "forum_channel_id": str(forum.pk),
        # The forum's pages are asked about the private forum (a public one is open to anyone).
        "council_id": str(council.pk),
        "secret_topic_id": str(secret_topic.pk),
        "secret_reply_id": str(secret_reply.pk),
        "member_id": str(member.pk),
        "key_id": str(keys["owner"][0].pk),
    }
    return {
        "people": people,
        "keys": keys,
        "values": values,
        "project": project,
        "execution": execution,
        "budget": budget,
        "public": public,
        "private": private,
        "forum": forum,
        "message": message,
        "topic": topic,
        "reply": reply,
        "blog_post": blog_post,
        "blog_revision": blog_post.revisions.earliest("pk"),
        "docs_page": docs_page,
        "docs_revision": docs_page.revisions.earliest("pk"),
        "notification": notification,
        "export_token": account_services.data_export_token(export),
        "confirm_token": confirm_token(subscriber_id=subscriber.pk, email=subscriber.email),
        "manage_token": manage_token(subscriber_id=subscriber.pk),
    }


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module in a transaction that is rolled back when the module ends."""
    media_root = Path(tempfile.mkdtemp(prefix="authz-media-"))
    with django_db_blocker.unblock():
        with transaction.atomic():
            built = _build_world(media_root)
            built["media_root"] = media_root
            built["clients"] = _clients(built)
            yield built
            transaction.set_rollback(True)


def _clients(world) -> dict:
    """Per principal: "api" (API key), "session" (signed-in, for the API's session routes and pages)."""
    clients = {}
    for name in PRINCIPALS:
        api, session = APIClient(), APIClient()
        if name != "anonymous":
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {world['keys'][name][1]}")
        if name == "revoked":
            session = api
        elif name != "anonymous":
            sign_in(session, world["people"][name])
        page = Client()
        if name not in ("anonymous", "revoked"):
            page.cookies = session.cookies
        clients[name] = {"api": api, "session": session, "page": page}
    return clients


# --- paths and bodies --------------------------------------------------------------------------------


def _pk_for(key: str, world) -> str:
    if key.startswith("project-execution"):
        return str(world["execution"].pk)
    if key.startswith("budget"):
        return str(world["budget"].pk)
    if key.startswith("api-key"):
        return str(world["keys"]["owner"][0].pk)
    if key.startswith("notification"):
        return str(world["notification"].pk)
    return str(world["project"].pk)


PATH_OVERRIDES = {
    # Regex routes whose example cannot be built from the pattern alone.
    r"api/^[\s\S]*$": "/api/no-such-thing/",
    r"^media/(?P<path>.*)$": "/media/avatars/nobody.png",
    "forum_channel": "/forum/{council_id}/",
    "forum_topic_create": "/forum/{council_id}/new/",
    "forum_topic": "/forum/t/{secret_topic_id}-our-plans/",
    "forum_topic_short": "/forum/t/{secret_topic_id}/",
    "forum_reply_create": "/forum/t/{secret_topic_id}/reply/",
    "forum_solution": "/forum/r/{secret_reply_id}/solution/",
    "newsletter_confirm": "/newsletter/confirm/{confirm_token}/",
    "account_export_download": "/account/export/download/{export_token}/",
    "newsletter_unsubscribe": "/newsletter/unsubscribe/{manage_token}/",
    "newsletter_preferences": "/newsletter/preferences/{manage_token}/",
    "api-blog-revision-restore": "/api/blog/posts/{blog_post}/revisions/{blog_revision}/restore/",
    "api-blog-post": "/api/blog/posts/{blog_post}/",
    "api-blog-revisions": "/api/blog/posts/{blog_post}/revisions/",
    "docs-page-detail": "/api/docs/pages/{docs_page}/",
    "docs-page-revisions": "/api/docs/pages/{docs_page}/revisions/",
    "docs-revision-restore": "/api/docs/pages/{docs_page}/revisions/{docs_revision}/restore/",
    # The member of the private channel (the one a moderator may remove).
    "community-channel-member": "/api/community/channels/{channel_id}/members/{member_id}/",
}
PATH_OVERRIDES.update(ADMIN_INCLUDED)

def path_for(key: str, world) -> str:
    """The route's path with every parameter filled from the world."""
    full, _ = ROUTES[key]
    values = {
        **world["values"],
        "pk": _pk_for(key, world),
        "confirm_token": world["confirm_token"],
        "manage_token": world["manage_token"],
        "export_token": world["export_token"],
        "blog_post": str(world["blog_post"].pk),
        "blog_revision": str(world["blog_revision"].pk),
        "docs_page": str(world["docs_page"].pk),
        "docs_revision": str(world["docs_revision"].pk),
    }
    if key in PATH_OVERRIDES:
        return PATH_OVERRIDES[key].format(**values)
    path = full.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", lambda m: values[m.group(1)], path)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], path)
    path = path.replace("\\.", ".")
    assert not re.search(r"[()\[\]?*+\\]", path), f"cannot build a path for {key}: {path}; add it to PATH_OVERRIDES"
    return "/" + path


def _finished_run():
    return {"agent_type": "claude-code", "model": "claude-sonnet-4", "status": "completed", "input_tokens": 10_000,
            "cached_input_tokens": 2_000, "output_tokens": 1_000, "execution_time_ms": 1234}


def _upload():
    return {"file": SimpleUploadedFile("dot.png", PNG, content_type="image/png")}


# Bodies that would succeed for an allowed principal, so the status shows the permission decision.
# A callable is called per request (an upload is read once); {placeholders} are filled from the world.
BODIES = {
    ("api-me", "patch"): {"display_name": "Renamed"},
    ("api-notification-preferences", "put"): {"mention": "in_app"},
    ("api-key-list", "post"): {"name": "laptop"},
    ("notification-mark-read", "post"): {},
    ("project-list", "post"): {"name": "Mine"},
    ("project-detail", "patch"): {"description": "x"},
    ("project-transfer", "post"): {"username": "editor"},
    ("project-collaborator-list", "post"): {"username": "stranger", "role": "viewer"},
    ("project-collaborator-detail", "patch"): {"role": "editor"},
    ("project-execution-list", "post"): _finished_run,
    ("project-execution-detail", "patch"): {"status": "completed", "output_tokens": 5},
    ("project-budget-list", "post"): {"metric": "tokens", "monthly_limit": 1000},
    ("budget-list", "post"): {"metric": "cost", "monthly_limit": 5_000_000},
    ("community-channel-messages", "post"): {"content": "hello"},
    ("community-channel-read", "post"): {"seq": 1},
    ("community-channel-members", "post"): {"username": "stranger"},
    ("community-message", "patch"): {"content": "edited"},
    ("community-reactions", "post"): {"emoji": "👍"},
    ("community-attachments", "post"): _upload,
    ("forum-post-list", "post"): {"channel": "{forum_channel_id}", "title": "Another question", "content": "Body text."},
    ("forum-preview", "post"): {"content": "**bold**"},
    ("forum-post", "patch"): {"content": "Edited body."},
    ("forum-post-replies", "post"): {"content": "A reply."},
    ("forum-post-reactions", "post"): {"emoji": "👍"},
    ("forum-reply", "patch"): {"content": "Edited reply."},
    ("forum-reply-reactions", "post"): {"emoji": "👍"},
    ("api-blog-posts", "post"): {"title": "New post", "content": [{"type": "paragraph", "text": "Hi."}]},
    ("api-blog-post", "patch"): {"title": "Renamed"},
    ("api-blog-revision-restore", "post"): {},
    ("docs-page-list", "post"): {"title": "New page", "version": "2.0", "content": [{"type": "paragraph", "text": "Hi."}]},
    ("docs-page-detail", "patch"): {"title": "Renamed"},
    ("docs-revision-restore", "post"): {},
    ("api-newsletter-subscribe", "post"): {"email": "someone@example.org"},
    ("api-account-newsletter", "put"): {"subscribed": True},
    ("api-reports", "post"): {"content_type": "forum_post", "content_id": "{post_id}", "reason": "spam"},
    ("billing_checkout_api", "post"): {"price": "price_pro_monthly"},
    ("billing_portal_api", "post"): {},
    # Pages: form posts.
    ("project_settings", "post"): {"name": "Apollo II"},
    ("project_status", "post"): {"action": "archived"},
    ("project_budget", "post"): {"metric": "tokens", "monthly_limit": "1000", "warn_percent": "80"},
    ("project_invite", "post"): {"who": "stranger", "role": "viewer"},
    ("project_collaborator", "post"): {"role": "editor"},
    ("project_invitation", "post"): {"decision": "accept"},
    ("forum_topic_create", "post"): {"title": "Another question", "content": "Body text."},
    ("forum_reply_create", "post"): {"content": "A reply."},
    ("newsletter_subscribe_page", "post"): {"email": "someone@example.org"},
    ("newsletter_preferences", "post"): {"action": "unsubscribe"},
    ("billing_checkout", "post"): {"price": "price_pro_monthly"},
}
MULTIPART = {("community-attachments", "post")}


def _body(key, method, world):
    body = BODIES.get((key, method))
    if callable(body):
        return body()
    if body is None:
        return None
    values = {**world["values"], "stranger_id": str(world["people"]["stranger"].pk)}
    return {k: v.format(**values) if isinstance(v, str) else v for k, v in body.items()}


def call(world, principal: str, key: str, method: str):
    full, _ = ROUTES[key]
    path = path_for(key, world)
    body = _body(key, method, world)
    if full.startswith("api/"):
        kind = "session" if (key, method) in SESSION_ROUTES else "api"
        client = world["clients"][principal][kind]
        fmt = "multipart" if (key, method) in MULTIPART else "json"
        return getattr(client, method)(path, body, format=fmt) if body is not None else getattr(client, method)(path)
    client = world["clients"][principal]["page"]
    return getattr(client, method)(path, body or {}) if method == "post" else client.get(path)



# --- the expected statuses ----------------------------------------------------------------------------

GROUPS = {
    "signed": SIGNED_IN,
    "team": ["viewer", "editor", "owner"],  # the project's collaborators and its owner
    "staffers": STAFF,  # the moderator and the superuser
}


def _expand(by: dict, base: dict) -> dict:
    """Group keywords first (``signed`` broadest), then single principals override them."""
    statuses = dict(base)
    for group in ("signed", "team", "staffers"):
        if group in by:
            statuses.update(dict.fromkeys(GROUPS[group], by.pop(group)))
    statuses.update(by)
    missing = set(PRINCIPALS) - {"revoked"} - set(statuses)
    assert not missing, f"no status for {missing}"
    return statuses


def api(**by) -> dict:
    """An API route: anonymous and the revoked key get 401 unless told otherwise."""
    return _expand(by, {"anonymous": 401, "revoked": 401})


def page(**by) -> dict:
    """A page: the revoked key's holder is anonymous there, so it is not asked again."""
    return _expand(by, {})


# Hidden objects are 404 (existence does not leak); visible but not allowed is 403. Staff and moderators are
# strangers to projects everywhere but the admin (tests/projects/test_api_permissions.py). A moderator is
# staff: content rules (blog, docs, forum, private channels) let staff in; the admin's Django permissions
# keep a moderator out of API keys, projects and billing.
EXPECTED = {
    # accounts
    ("api-me", "get"): api(signed=200),
    ("api-me", "patch"): api(signed=200),
    # Deleting an account: never with an API key (tests/accounts/test_deletion.py has the sessions' cases)
    ("api-me", "delete"): api(signed=403),
    ("api-notification-preferences", "get"): api(signed=200),
    ("api-notification-preferences", "put"): api(signed=200),
    ("api-mutes", "get"): api(signed=200),
    ("api-user-mute", "post"): api(owner=400, signed=200),  # {username} is the owner: muting yourself is refused
    ("api-user-mute", "delete"): api(signed=204),
    ("api-profile", "get"): api(anonymous=200, signed=200),  # public profiles
    ("api-key-list", "get"): api(signed=200),
    ("api-key-list", "post"): api(signed=201),  # SESSION_ROUTES: a key cannot mint keys
    ("api-key-detail", "get"): api(owner=200, signed=404),  # the owner's key
    ("api-key-detail", "delete"): api(owner=204, signed=404),
    ("notification-list", "get"): api(signed=200),
    ("notification-mark-read", "post"): api(signed=200),
    ("notification-mark-one-read", "post"): api(owner=200, signed=404),  # the owner's notification
    # your data (SESSION_ROUTES: an API key is a 403 there, tests/accounts/test_export.py); the owner exported today
    ("api-me-export", "get"): api(owner=200, signed=404),
    ("api-me-export", "post"): api(owner=429, signed=202),
    # projects ({project_id}: Apollo; {user_id}: its viewer; {pk}: the owner's run, the owner's budget)
    ("project-list", "get"): api(signed=200),
    ("project-list", "post"): api(signed=201),
    ("project-detail", "get"): api(team=200, signed=404),
    ("project-detail", "patch"): api(viewer=403, editor=200, owner=200, signed=404),
    ("project-detail", "delete"): api(viewer=403, editor=403, owner=204, signed=404),
    ("project-restore", "post"): api(signed=404),  # not deleted
    ("project-transfer", "post"): api(viewer=403, editor=403, owner=200, signed=404),
    ("project-collaborator-list", "get"): api(team=200, signed=404),
    ("project-collaborator-list", "post"): api(viewer=403, editor=403, owner=201, signed=404),
    ("project-collaborator-detail", "patch"): api(viewer=403, editor=403, owner=200, signed=404),
    ("project-collaborator-detail", "delete"): api(viewer=204, editor=403, owner=204, signed=404),  # the viewer leaves
    ("project-invitation-accept", "post"): api(signed=404),  # nobody here is invited
    ("project-invitation-decline", "post"): api(signed=404),
    ("project-execution-list", "get"): api(team=200, signed=404),
    ("project-execution-list", "post"): api(viewer=403, editor=201, owner=201, signed=404),
    ("project-execution-detail", "get"): api(team=200, signed=404),
    ("project-execution-detail", "patch"): api(viewer=403, editor=403, owner=200, signed=404),  # the owner's run
    ("project-budget-list", "get"): api(team=200, signed=404),
    ("project-budget-list", "post"): api(viewer=403, editor=403, owner=201, signed=404),
    ("budget-list", "get"): api(signed=200),
    ("budget-list", "post"): api(signed=201),
    ("budget-detail", "delete"): api(owner=204, signed=404),
    ("usage", "get"): api(signed=200),
    # community ({channel_id}: the private channel; {message_id}: the member's message there)
    ("community-channel-list", "get"): api(signed=200),
    ("community-channel-messages", "get"): api(member=200, staffers=200, signed=404),
    ("community-channel-messages", "post"): api(member=201, staffers=201, signed=404),
    ("community-channel-read", "post"): api(member=200, staffers=200, signed=404),
    ("community-channel-members", "get"): api(member=200, staffers=200, signed=404),
    ("community-channel-members", "post"): api(member=403, staffers=201, signed=404),
    ("community-channel-member", "delete"): api(member=403, staffers=204, signed=404),
    ("community-message", "get"): api(member=200, staffers=200, signed=404),
    ("community-message", "patch"): api(member=200, staffers=200, signed=404),
    ("community-message", "delete"): api(member=204, staffers=204, signed=404),
    ("community-thread", "get"): api(member=200, staffers=200, signed=404),
    ("community-reactions", "post"): api(member=200, staffers=200, signed=404),
    ("community-edits", "get"): api(member=200, staffers=200, signed=404),
    ("community-attachments", "post"): api(signed=201),
    # forum ({post_id}: the member's topic in a public forum; {reply_id}: the stranger's reply)
    ("forum-post-list", "get"): api(signed=200),
    ("forum-post-list", "post"): api(signed=201),
    ("forum-preview", "post"): api(signed=200),
    ("forum-post", "get"): api(signed=200),
    ("forum-post", "patch"): api(member=200, staffers=200, signed=403),
    ("forum-post", "delete"): api(member=204, staffers=204, signed=403),
    ("forum-post-replies", "get"): api(signed=200),
    ("forum-post-replies", "post"): api(signed=201),
    ("forum-post-reactions", "post"): api(signed=200),
    ("forum-post-edits", "get"): api(signed=200),
    ("forum-reply", "get"): api(signed=200),
    ("forum-reply", "patch"): api(stranger=200, staffers=200, signed=403),
    ("forum-reply", "delete"): api(stranger=204, staffers=204, signed=403),
    ("forum-reply-solution", "post"): api(member=200, staffers=200, signed=403),  # the topic's author chooses
    ("forum-reply-solution", "delete"): api(member=204, staffers=204, signed=403),
    ("forum-reply-reactions", "post"): api(signed=200),
    # blog and docs ({post_id}: a draft by staff; {page_id}: a published docs page): staff write
    ("api-blog-posts", "get"): api(anonymous=200, signed=200),
    ("api-blog-posts", "post"): api(staffers=201, signed=403),
    ("api-blog-post", "get"): api(anonymous=404, staffers=200, signed=404),
    ("api-blog-post", "patch"): api(staffers=200, signed=403),
    ("api-blog-post", "delete"): api(staffers=204, signed=403),
    ("api-blog-revisions", "get"): api(staffers=200, signed=403),
    ("api-blog-revision-restore", "post"): api(staffers=200, signed=403),
    ("api-docs-search", "get"): api(anonymous=200, signed=200),
    ("docs-page-list", "get"): api(anonymous=200, signed=200),
    ("docs-page-list", "post"): api(staffers=201, signed=403),
    ("docs-page-detail", "get"): api(anonymous=200, signed=200),
    ("docs-page-detail", "patch"): api(staffers=200, signed=403),
    ("docs-page-detail", "delete"): api(staffers=204, signed=403),
    ("docs-page-revisions", "get"): api(staffers=200, signed=403),
    ("docs-revision-restore", "post"): api(staffers=200, signed=403),
    ("api-newsletter-subscribe", "post"): api(anonymous=202, signed=202),  # a presented revoked key is still 401
    ("api-account-newsletter", "get"): api(signed=200),
    ("api-account-newsletter", "put"): api(signed=200),
    # moderation
    ("api-reports", "post"): api(member=400, signed=201),  # the member wrote the topic: no reporting yourself
    # billing: no Stripe catalog here, so a signed-in checkout is a 400 naming the price; no one has a customer yet
    ("billing_checkout_api", "post"): api(signed=400),
    ("billing_portal_api", "post"): api(signed=409),
    # the API's own 404 for unknown paths, whoever asks (before any authentication)
    (r"api/^[\s\S]*$", "get"): api(anonymous=404, revoked=404, signed=404),
    (r"api/^[\s\S]*$", "post"): api(anonymous=404, revoked=404, signed=404),
    # --- pages ---
    ("home", "get"): page(anonymous=200, signed=200),
    ("home", "post"): page(anonymous=200, signed=200),
    ("pricing", "get"): page(anonymous=200, signed=200),
    ("pricing", "post"): page(anonymous=200, signed=200),
    ("notifications", "get"): page(anonymous=302, signed=200),
    ("notifications", "post"): page(anonymous=302, signed=302),  # marks all read
    ("account_settings", "get"): page(anonymous=302, signed=200),
    ("account_settings", "post"): page(anonymous=302, signed=200),
    # Only after allauth's re-authentication: a signed-in session is first sent to enter its password again
    ("account_delete", "get"): page(anonymous=302, signed=302),
    ("account_delete", "post"): page(anonymous=302, signed=302),
    ("account_api_keys", "get"): page(anonymous=302, signed=200),
    ("account_api_keys", "post"): page(anonymous=302, signed=200),
    ("account_api_key_revoke", "get"): page(anonymous=302, signed=405),
    ("account_api_key_revoke", "post"): page(anonymous=302, owner=302, signed=404),  # the owner's key
    ("account_security", "get"): page(anonymous=302, signed=200),
    ("account_security", "post"): page(anonymous=302, signed=200),
    ("account_export", "get"): page(anonymous=302, signed=200),
    ("account_export", "post"): page(anonymous=302, signed=302),  # queued, or "one a day" for the owner
    ("account_export_download", "get"): page(anonymous=302, owner=200, signed=404),  # the owner's export
    ("account_export_download", "post"): page(anonymous=302, signed=405),
    ("account_notifications", "get"): page(anonymous=301, signed=301),  # moved to /notifications/
    ("account_notifications", "post"): page(anonymous=301, signed=301),
    ("account_notification_settings", "get"): page(anonymous=302, signed=200),
    ("account_notification_settings", "post"): page(anonymous=302, signed=200),
    ("account_usage", "get"): page(anonymous=302, signed=200),
    ("account_usage", "post"): page(anonymous=302, signed=200),
    ("account_newsletter", "get"): page(anonymous=302, signed=200),
    ("account_newsletter", "post"): page(anonymous=302, signed=302),
    ("account_billing", "get"): page(anonymous=302, signed=200),
    ("account_billing", "post"): page(anonymous=302, signed=200),
    ("billing_checkout", "get"): page(anonymous=302, signed=405),
    ("billing_checkout", "post"): page(anonymous=302, signed=400),  # no Stripe catalog here
    ("billing_portal", "get"): page(anonymous=302, signed=405),
    ("billing_portal", "post"): page(anonymous=302, signed=409),  # no billing account yet
    ("profile_detail", "get"): page(anonymous=200, signed=200),
    ("profile_detail", "post"): page(anonymous=200, signed=200),
    ("profile_mute", "get"): page(anonymous=302, signed=405),
    ("profile_mute", "post"): page(anonymous=302, signed=302),
    ("profile_unmute", "get"): page(anonymous=302, signed=405),
    ("profile_unmute", "post"): page(anonymous=302, signed=302),
    ("projects_home", "get"): page(anonymous=302, signed=200),
    ("projects_home", "post"): page(anonymous=302, signed=200),
    ("project_detail", "get"): page(anonymous=302, team=200, signed=404),
    ("project_detail", "post"): page(anonymous=302, team=200, signed=404),
    ("project_settings", "get"): page(anonymous=302, viewer=403, editor=200, owner=200, signed=404),
    ("project_settings", "post"): page(anonymous=302, viewer=403, editor=302, owner=302, signed=404),
    ("project_status", "get"): page(anonymous=302, signed=405),
    ("project_status", "post"): page(anonymous=302, viewer=403, editor=302, owner=302, signed=404),
    ("project_restore", "get"): page(anonymous=302, signed=405),
    ("project_restore", "post"): page(anonymous=302, signed=404),  # not deleted
    ("project_budget", "get"): page(anonymous=302, signed=405),
    ("project_budget", "post"): page(anonymous=302, viewer=403, editor=403, owner=302, signed=404),
    ("project_invite", "get"): page(anonymous=302, signed=405),
    ("project_invite", "post"): page(anonymous=302, viewer=403, editor=403, owner=302, signed=404),
    ("project_collaborator", "get"): page(anonymous=302, signed=405),
    ("project_collaborator", "post"): page(anonymous=302, viewer=403, editor=403, owner=302, signed=404),
    ("project_invitation", "get"): page(anonymous=302, signed=404),  # nobody here is invited
    ("project_invitation", "post"): page(anonymous=302, signed=404),
    ("community_home", "get"): page(anonymous=302, signed=200),
    ("community_home", "post"): page(anonymous=302, signed=200),
    ("community_attachment", "get"): page(anonymous=404, member=200, staffers=200, signed=404),  # in the private channel
    ("community_attachment", "post"): page(anonymous=405, signed=405),
    # The forum's pages name the private forum, its topic and reply (the member's): a public forum is open to
    # all (forum_index, and the API below); a hidden one asks anonymous visitors to sign in, as an unknown one.
    ("forum_index", "get"): page(anonymous=200, signed=200),
    ("forum_index", "post"): page(anonymous=405, signed=405),
    ("forum_tags", "get"): page(anonymous=200, signed=200),
    ("forum_tags", "post"): page(anonymous=405, signed=405),
    ("forum_channel", "get"): page(anonymous=302, member=200, staffers=200, signed=404),
    ("forum_channel", "post"): page(anonymous=405, signed=405),
    ("forum_topic", "get"): page(anonymous=302, member=200, staffers=200, signed=404),
    ("forum_topic", "post"): page(anonymous=405, signed=405),
    ("forum_topic_short", "get"): page(anonymous=302, member=301, staffers=301, signed=404),  # to the slugged address
    ("forum_topic_short", "post"): page(anonymous=405, signed=405),
    ("forum_topic_create", "get"): page(anonymous=302, member=200, staffers=200, signed=404),
    ("forum_topic_create", "post"): page(anonymous=302, member=302, staffers=302, signed=404),
    ("forum_reply_create", "get"): page(anonymous=405, signed=405),
    ("forum_reply_create", "post"): page(anonymous=302, member=302, staffers=302, signed=404),
    ("forum_solution", "get"): page(anonymous=405, signed=405),
    ("forum_solution", "post"): page(anonymous=302, member=302, staffers=302, signed=404),
    ("blog_home", "get"): page(anonymous=200, signed=200),
    ("blog_home", "post"): page(anonymous=405, signed=405),
    ("blog_feed", "get"): page(anonymous=200, signed=200),
    ("blog_feed", "post"): page(anonymous=405, signed=405),
    ("blog_tag", "get"): page(anonymous=200, signed=200),
    ("blog_tag", "post"): page(anonymous=405, signed=405),
    ("blog_post", "get"): page(anonymous=404, staffers=200, signed=404),  # a draft: staff preview it
    ("blog_post", "post"): page(anonymous=405, signed=405),
    ("docs_home", "get"): page(anonymous=302, signed=302),  # to the newest version's first page
    ("docs_home", "post"): page(anonymous=302, signed=302),
    ("docs_version", "get"): page(anonymous=302, signed=302),
    ("docs_version", "post"): page(anonymous=302, signed=302),
    ("docs_page", "get"): page(anonymous=200, signed=200),
    ("docs_page", "post"): page(anonymous=200, signed=200),
    ("docs_search", "get"): page(anonymous=200, signed=200),
    ("docs_search", "post"): page(anonymous=200, signed=200),
    ("newsletter_subscribe_page", "get"): page(anonymous=200, signed=200),
    ("newsletter_subscribe_page", "post"): page(anonymous=302, signed=302),
    ("newsletter_check_inbox", "get"): page(anonymous=200, signed=200),
    ("newsletter_check_inbox", "post"): page(anonymous=200, signed=200),
    # The signed token in the address decides, not the session.
    ("newsletter_confirm", "get"): page(anonymous=200, signed=200),
    ("newsletter_confirm", "post"): page(anonymous=200, signed=200),
    ("newsletter_unsubscribe", "get"): page(anonymous=200, signed=200),
    ("newsletter_unsubscribe", "post"): page(anonymous=200, signed=200),  # one-click unsubscribe (RFC 8058)
    ("newsletter_preferences", "get"): page(anonymous=200, signed=200),
    ("newsletter_preferences", "post"): page(anonymous=200, signed=200),
    ("sitemap", "get"): page(anonymous=200, signed=200),
    ("sitemap", "post"): page(anonymous=405, signed=405),
    ("sitemap_section", "get"): page(anonymous=200, signed=200),
    ("sitemap_section", "post"): page(anonymous=405, signed=405),
    (r"^media/(?P<path>.*)$", "get"): page(anonymous=404, signed=404),  # no such file
    (r"^media/(?P<path>.*)$", "post"): page(anonymous=404, signed=404),
    # the admin: staff with a group's permissions, or a superuser; everyone else is sent to sign in
    ("index", "get"): page(anonymous=302, staffers=200, signed=302),
    ("community_message_changelist", "get"): page(anonymous=302, staffers=200, signed=302),
    ("moderation_moderationitem_changelist", "get"): page(anonymous=302, staffers=200, signed=302),
    ("accounts_user_changelist", "get"): page(anonymous=302, staffers=200, signed=302),
    ("accounts_apikey_changelist", "get"): page(anonymous=302, moderator=403, staff=200, signed=302),
    ("projects_project_changelist", "get"): page(anonymous=302, moderator=403, staff=200, signed=302),
    ("djstripe_customer_changelist", "get"): page(anonymous=302, moderator=403, staff=200, signed=302),
}


# --- the tests ----------------------------------------------------------------------------------------


def test_every_route_has_an_entry():
    """A new route (or a new method on one) fails here until it has a row in EXPECTED or a reason in EXCLUDED."""
    routes = exposed()
    missing = sorted(routes - set(EXPECTED))
    stale = sorted(set(EXPECTED) - routes)
    assert not missing, f"routes without an entry in EXPECTED (or a reason in EXCLUDED): {missing}"
    assert not stale, f"entries in EXPECTED for routes the URL conf no longer has: {stale}"


def test_every_exclusion_names_a_route():
    assert set(EXCLUDED) <= set(ROUTES), set(EXCLUDED) - set(ROUTES)
    assert set(ADMIN_INCLUDED) <= set(ROUTES), set(ADMIN_INCLUDED) - set(ROUTES)
    excluded = [key for key, (full, pattern) in ROUTES.items() if _excluded_reason(key, full, pattern)]
    assert len(excluded) < len(ROUTES)
    # The schema views and the probes are the only non-admin, non-allauth exclusions by name.
    assert {key for key in excluded if not ROUTES[key][0].startswith(("admin/", "account/", "anymail/"))} == {
        "api-schema", "api-docs", "api-redoc", "healthz", "readyz", "stripe_webhook",
    }


@pytest.fixture
def quiet(settings, world):
    """Nothing but the permission decision answers: no rate limit or bot block trips mid-matrix."""
    settings.MEDIA_ROOT = world["media_root"]
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **{name: "100000/second" for name in settings.RATE_LIMITS}}
    settings.MODERATION_BOT_DETECTION = False


@pytest.mark.parametrize(("key", "method"), sorted(EXPECTED), ids=[f"{m.upper()} {k}" for k, m in sorted(EXPECTED)])
def test_route(world, quiet, key, method):
    expected = EXPECTED[(key, method)]
    actual = {}
    for principal in expected:
        savepoint = transaction.savepoint()
        try:
            response = call(world, principal, key, method)
        finally:
            transaction.savepoint_rollback(savepoint)
        actual[principal] = response.status_code
        if ROUTES[key][0].startswith("api/") and response.status_code >= 400:
            assert set(response.json()["error"]) >= {"code", "message"}, (principal, response.content[:300])
    wrong = {p: f"expected {expected[p]}, got {actual[p]}" for p in expected if actual[p] != expected[p]}
    assert not wrong, f"{method.upper()} {path_for(key, world)}: {wrong}"


HIDDEN_OBJECTS = [
    # (route, method, the placeholder naming the hidden object): asked by a stranger and by anonymous
    ("community-channel-messages", "get", "channel_id"),
    ("community-message", "patch", "message_id"),
    ("project-collaborator-list", "get", "project_id"),
    ("project_detail", "get", "project_id"),
    ("community_attachment", "get", "attachment_id"),
    ("forum_topic_short", "get", "secret_topic_id"),
    ("forum_channel", "get", "council_id"),
    ("forum_solution", "post", "secret_reply_id"),
]


@pytest.mark.parametrize(("key", "method", "name"), HIDDEN_OBJECTS)
def test_a_hidden_object_answers_as_an_unknown_one(world, quiet, key, method, name):
    """Existence does not leak: for those who may not see it, a hidden object and a made-up id answer alike."""
    import uuid

    values = world["values"]
    hidden = values[name]
    for principal in ("stranger", "anonymous"):
        statuses = []
        for value in (hidden, str(uuid.uuid4())):
            values[name] = value
            savepoint = transaction.savepoint()
            try:
                response = call(world, principal, key, method)
            finally:
                transaction.savepoint_rollback(savepoint)
                values[name] = hidden
            statuses.append((response.status_code, response.get("Location", "").replace(value, "{id}")))
        assert statuses[0] == statuses[1], (principal, statuses)
