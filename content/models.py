"""Blog posts and documentation pages, and their revisions (the design's ``blog_posts``,
``blog_revisions`` and ``documentation``); the newsletter's subscribers, campaigns and deliveries
(``newsletter_subscribers``, ``newsletter_campaigns``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone


class PublicationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Revision(models.Model):
    """One save of a page: who, when, why, and a snapshot of every revisable field (``content``).

    Rows are never changed or deleted while their page lives; a restore makes a new one. A revision
    with ``go_live_at`` is scheduled: ``content.tasks.publish_due_task`` publishes it then.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content = models.JSONField()
    change_summary = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    go_live_at = models.DateTimeField(null=True, blank=True, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} — {self.change_summary or 'no summary'}"


class RevisablePage(models.Model):
    """What blog posts and docs pages share: the row holds the live version (or, before the first
    publication, the latest draft); newer drafts live in revisions until published."""

    #: the fields a revision snapshots and a restore brings back
    revision_fields: tuple[str, ...] = ()

    # Subclasses add ``live_revision`` and ``latest_revision``, foreign keys to their revision model.
    has_unpublished_changes = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class BlogPost(RevisablePage):
    revision_fields = (
        "title",
        "slug",
        "excerpt",
        "content",
        "featured_image",
        "tags",
        "seo_meta",
        "author_id",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="blog_posts"
    )
    slug = models.SlugField(
        max_length=255, unique=True, error_messages={"unique": "A post with this slug exists."}
    )
    title = models.CharField(max_length=255)
    excerpt = models.TextField(blank=True, default="")
    content = models.JSONField(default=list)
    featured_image = models.CharField(max_length=2000, blank=True, default="")
    status = models.CharField(
        max_length=20, choices=PublicationStatus.choices, default=PublicationStatus.DRAFT, db_index=True
    )
    tags = models.JSONField(default=list, blank=True)
    seo_meta = models.JSONField(default=dict, blank=True)
    view_count = models.PositiveIntegerField(default=0, editable=False)
    reading_time = models.PositiveSmallIntegerField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    live_revision = models.ForeignKey(
        "BlogRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    latest_revision = models.ForeignKey(
        "BlogRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        db_table = "blog_posts"
        ordering = ["-published_at", "-created_at"]
        indexes = [models.Index(fields=["status", "-published_at"], name="blog_posts_public_idx")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return f"/blog/{self.slug}/"


class BlogRevision(Revision):
    post = models.ForeignKey(BlogPost, on_delete=models.CASCADE, related_name="revisions")

    class Meta(Revision.Meta):
        db_table = "blog_revisions"
        indexes = [models.Index(fields=["post", "-created_at"], name="blog_revisions_post_idx")]


class BlogPostTag(models.Model):
    """``tags`` as rows, so the tag filter is an indexed lookup on any database."""

    post = models.ForeignKey(BlogPost, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=50, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "tag"], name="blog_post_tag_unique")]

    def __str__(self):
        return self.tag


class BlogSlugRedirect(models.Model):
    """A slug a post used to have: its URL answers 301 to the post's current one."""

    old_slug = models.SlugField(max_length=255, unique=True)
    post = models.ForeignKey(BlogPost, on_delete=models.CASCADE, related_name="slug_redirects")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"/blog/{self.old_slug}/"


class Documentation(RevisablePage):
    """A docs page. ``slug`` is unique within a version and a parent (the design's global uniqueness
    cannot hold two versions of one page); a page's URL is its version and the slugs of its path."""

    revision_fields = ("title", "slug", "content", "category", "position", "parent_id")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=255)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    title = models.CharField(max_length=255)
    content = models.JSONField(default=list)
    category = models.CharField(max_length=100, blank=True, default="")
    position = models.IntegerField(default=0)
    version = models.CharField(max_length=50, default="latest")
    is_published = models.BooleanField(default=True)
    search_content = models.TextField(blank=True, default="", editable=False)
    # PostgreSQL only (kept in sync by the services; the column exists, unused, on SQLite).
    search_vector = SearchVectorField(null=True, blank=True, editable=False)
    live_revision = models.ForeignKey(
        "DocumentationRevision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    latest_revision = models.ForeignKey(
        "DocumentationRevision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        db_table = "documentation"
        ordering = ["version", "position", "title"]
        verbose_name = "documentation page"
        constraints = [
            models.UniqueConstraint(
                fields=["version", "parent", "slug"],
                name="documentation_slug_unique_in_parent",
                violation_error_message="A page with this slug exists under this parent in this version.",
            ),
            models.UniqueConstraint(
                fields=["version", "slug"],
                condition=Q(parent__isnull=True),
                name="documentation_slug_unique_at_top",
                violation_error_message="A top-level page with this slug exists in this version.",
            ),
        ]
        indexes = [
            models.Index(fields=["version", "parent", "position"], name="documentation_tree_idx"),
            # version first: a search is always within one version, and GIN intersects the two keys
            # (btree_gin) instead of and-ing a bitmap of every page of the version (docs/search.md).
            GinIndex(fields=["version", "search_vector"], name="documentation_search_idx"),
        ]

    def __str__(self):
        return f"{self.title} ({self.version})"


class DocumentationRevision(Revision):
    page = models.ForeignKey(Documentation, on_delete=models.CASCADE, related_name="revisions")

    class Meta(Revision.Meta):
        db_table = "documentation_revisions"
        indexes = [models.Index(fields=["page", "-created_at"], name="documentation_revisions_idx")]


# --- Newsletter ---------------------------------------------------------------------------------


class SubscriberStatus(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    ACTIVE = "active", "Active"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained"


class SubscriberSource(models.TextChoices):
    API = "api", "API"
    FORM = "form", "Website form"
    ACCOUNT = "account", "Account settings"
    ADMIN = "admin", "Admin"
    DEMO = "demo", "Demo data"


class Subscriber(models.Model):
    """One address on the list. Only ``active`` ones are mailed: confirmed (double opt-in) and never
    unsubscribed, bounced or complained about. ``email`` is stored normalised (``newsletter.emails``)."""

    email = models.EmailField(max_length=254, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="newsletter_subscriber",
    )
    status = models.CharField(max_length=20, choices=SubscriberStatus.choices, default=SubscriberStatus.PENDING)
    source = models.CharField(max_length=20, choices=SubscriberSource.choices, default=SubscriberSource.FORM)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True, help_text="When a bounce or complaint came in.")

    class Meta:
        db_table = "newsletter_subscribers"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "id"], name="newsletter_subscriber_status")]

    def __str__(self):
        return self.email


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"


class CampaignAudience(models.TextChoices):
    ALL = "all", "All active subscribers"
    TIER = "tier", "Subscribers on one plan"


class Campaign(models.Model):
    """One newsletter issue. Its body is content blocks, as a blog post's, or a published blog post.

    The counters are kept by the senders as they go and recounted from the deliveries when the
    campaign finishes, so they are exact once it is sent (``newsletter.sending.campaign_recount``).
    """

    subject = models.CharField(max_length=200)
    preheader = models.CharField(max_length=200, blank=True, help_text="The preview line inboxes show.")
    content = models.JSONField(default=list, blank=True)
    blog_post = models.ForeignKey(
        BlogPost,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
        help_text="Send this blog post (its content is used instead of the campaign's).",
    )
    audience = models.CharField(max_length=10, choices=CampaignAudience.choices, default=CampaignAudience.ALL)
    audience_tier = models.CharField(
        max_length=50, blank=True, help_text="With the audience 'subscribers on one plan': free, pro or enterprise."
    )
    status = models.CharField(max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=500, blank=True)
    total_count = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    # The counters when it last (re)started: the auto-pause measures the error rate from there.
    pause_baseline_sent = models.PositiveIntegerField(default=0)
    pause_baseline_failed = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last time a sender made progress.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "newsletter_campaigns"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="newsletter_campaign_due")]

    def __str__(self):
        return self.subject


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    SKIPPED = "skipped", "Skipped (left the list before their turn)"


class Delivery(models.Model):
    """One campaign to one subscriber: the unit of exactly-once sending.

    A sender claims queued rows (``claim_token``, ``claimed_until``) and marks each one sent as soon as
    the provider accepted it; a claim whose sender died expires and the rows are claimed again.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    email = models.EmailField(max_length=254, help_text="The address it was sent to.")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    provider_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True, help_text="Unsubscribed from this issue's link.")

    class Meta:
        db_table = "newsletter_deliveries"
        verbose_name_plural = "deliveries"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "subscriber"], name="newsletter_delivery_once"),
        ]
        indexes = [models.Index(fields=["campaign", "status", "id"], name="newsletter_delivery_work")]

    def __str__(self):
        return f"{self.campaign_id} to {self.email}: {self.status}"


class NewsletterSuppression(models.Model):
    """An address that asked to be forgotten (its account was deleted), kept only as a SHA-256 of the
    normalised address: enough to refuse adding it back by staff or a bulk path, never enough to mail
    it or read it back. The owner's own double-opt-in sign-up lifts it (``newsletter.services``)."""

    email_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "newsletter_suppressions"
        ordering = ["-created_at"]

    def __str__(self):
        return f"suppressed {self.email_sha256[:12]}…"
