"""Users (email login, public handle), their public profiles and personal API keys."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import FileExtensionValidator, RegexValidator
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from billing.plans import SubscriptionStatus, SubscriptionTier

from .notification_kinds import CHOOSABLE_CHOICES
from .validators import UsernameValidator


class UserManager(BaseUserManager):
    use_in_migrations = True

    def normalize_email(self, email):
        return (email or "").strip().lower()

    def get_by_natural_key(self, email):
        # Email is the login and is unique regardless of case.
        return self.get(email__iexact=email)

    @transaction.atomic
    def _create_user(self, email, username, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        if not username:
            raise ValueError("A username is required.")
        user = self.model(email=self.normalize_email(email), username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, username, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, username, password, **extra)

    def create_superuser(self, email, username, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, username, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Signs in with ``email``; ``username`` is the public handle (both unique, case-insensitively)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(
        "email address", max_length=254, unique=True,  # stored lower-cased
        error_messages={"unique": "A user is already registered with this email address."},
    )
    username = models.CharField(
        max_length=50,
        validators=[UsernameValidator()],
        help_text="Public handle: 3–50 letters, digits, '-' or '_'.",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the admin and moderate.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["username"]

    class Meta:
        constraints = [
            # The messages of the checks these back (accounts.services.profile_update, allauth's sign-up).
            models.UniqueConstraint(
                Lower("email"), name="accounts_user_email_ci_unique",
                violation_error_message="A user is already registered with this email address.",
            ),
            models.UniqueConstraint(
                Lower("username"), name="accounts_user_username_ci_unique",
                violation_error_message="This username is taken.",
            ),
        ]
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username

    def clean(self):
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)

    def save(self, *args, **kwargs):
        adding = self._state.adding
        self.email = type(self).objects.normalize_email(self.email)
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
            if adding:
                # Every user has a profile, whichever door created them (sign-up, OAuth, admin, shell).
                Profile.objects.get_or_create(user=self)


def avatar_upload_to(profile: Profile, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "png"
    return f"avatars/{profile.user_id}/{uuid.uuid4().hex[:12]}.{ext}"


handle_validator = RegexValidator(r"^[A-Za-z0-9_-]{1,39}$", "Letters, digits, '-' or '_' only, no '@'.")


class Profile(models.Model):
    """The seed's ``profiles`` row: public identity plus private billing/metadata fields."""

    user = models.OneToOneField(User, primary_key=True, on_delete=models.CASCADE, related_name="profile")
    full_name = models.CharField(max_length=255, blank=True)
    avatar = models.ImageField(
        upload_to=avatar_upload_to,
        blank=True,
        validators=[FileExtensionValidator(["png", "jpg", "jpeg", "gif", "webp"])],
    )
    avatar_url = models.URLField(max_length=500, blank=True, help_text="Used when no image is uploaded.")
    bio = models.TextField(max_length=2000, blank=True)
    company = models.CharField(max_length=255, blank=True)
    location = models.CharField(max_length=255, blank=True)
    website = models.URLField(max_length=500, blank=True)
    github_username = models.CharField(max_length=100, blank=True, validators=[handle_validator])
    twitter_handle = models.CharField(max_length=100, blank=True, validators=[handle_validator])
    subscription_tier = models.CharField(
        max_length=50, choices=SubscriptionTier.choices, default=SubscriptionTier.FREE, db_index=True
    )
    subscription_status = models.CharField(
        max_length=50, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE, db_index=True
    )
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    subscription_grace_until = models.DateTimeField(
        null=True, blank=True, help_text="While past due, the paid plan holds until then (BILLING_GRACE_DAYS)."
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"Profile of {self.user.username}"

    @property
    def avatar_src(self) -> str:
        """The image to show: the uploaded one first, then the external URL."""
        if self.avatar:
            return self.avatar.url
        return self.avatar_url

    @property
    def display_name(self) -> str:
        return self.full_name or self.user.username


class ApiKey(models.Model):
    """A personal API key. Only its SHA-256 is stored; the secret is shown once at creation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, shown to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="accounts_apikey_user_created")]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired else "active"


class Notification(models.Model):
    """An in-app notification; pushed live to the user's websocket group and optionally emailed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=50, help_text="e.g. budget_warning, project_invitation")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, max_length=5000)
    url = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True, help_text="Handed to the outbox as its own email.")
    digested_at = models.DateTimeField(null=True, blank=True, help_text="Included in a daily digest email.")
    group_key = models.CharField(
        max_length=100, blank=True, default="",
        help_text="Groups repeated events (reactions to one message) into one unread notification.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="accounts_notif_user_created")]
        constraints = [
            # One unread notification per group: concurrent reactions update it instead of adding more.
            models.UniqueConstraint(
                fields=["user", "group_key"], condition=models.Q(read_at__isnull=True) & ~models.Q(group_key=""),
                name="accounts_notif_one_unread_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.title}"

    def as_event(self) -> dict:
        return {
            "id": str(self.id),
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "url": self.url,
            "data": self.data,
            "created_at": self.created_at.isoformat(),
        }


class NotificationPreference(models.Model):
    """A user's explicit choice of delivery for one notification kind (``notification_kinds``).

    Rows rather than a JSON field on Profile: only choices a user made are stored, so a kind's default
    reaches everyone who never chose and a new kind needs no data migration; the database checks the
    value and keeps one row per kind (concurrent saves become an upsert); and the digest can ask which
    users opted in with an indexed query instead of decoding every profile.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_preferences")
    kind = models.CharField(max_length=50)
    delivery = models.CharField(max_length=20, choices=CHOOSABLE_CHOICES)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="accounts_notifpref_user_kind"),
            models.CheckConstraint(
                condition=models.Q(delivery__in=[value for value, _ in CHOOSABLE_CHOICES]), name="accounts_notifpref_delivery"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.kind} → {self.delivery}"


class UserMute(models.Model):
    """``user`` muted ``muted``: nothing ``muted`` does notifies ``user`` (mentions, replies, reactions…)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mutes")
    muted = models.ForeignKey(User, on_delete=models.CASCADE, related_name="muted_by")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "muted"], name="accounts_usermute_pair"),
            models.CheckConstraint(condition=~models.Q(user=models.F("muted")), name="accounts_usermute_not_self"),
        ]
        indexes = [models.Index(fields=["muted", "user"], name="accounts_usermute_muted")]

    def __str__(self) -> str:
        return f"{self.user_id} muted {self.muted_id}"


class NotificationDigest(models.Model):
    """One row per user and digest day: inserting it is the claim that makes the digest go out once,
    however many workers run the beat task at the same time."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_digests")
    day = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField(default=0, help_text="Notifications the email listed.")

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="accounts_notifdigest_user_day")]

    def __str__(self) -> str:
        return f"Digest for {self.user_id} on {self.day}"


class DataExportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"  # the file was removed; the row stays as the record of the request


# A user has at most one export in these states (a unique constraint): a double click queues one build.
DATA_EXPORT_ACTIVE = (DataExportStatus.PENDING, DataExportStatus.RUNNING)


class DataExport(models.Model):
    """One "download your data" request: built into a zip in the default storage by the worker
    (``accounts.export``), downloadable by its user through a signed link until ``expires_at``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=10, choices=DataExportStatus.choices, default=DataExportStatus.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="The link stops working and the file is removed.")
    sections_total = models.PositiveIntegerField(default=0, help_text="JSON files the zip will hold.")
    sections_done = models.PositiveIntegerField(default=0)
    rows_written = models.BigIntegerField(default=0)
    file_path = models.CharField(max_length=255, blank=True, help_text="In the default storage; never under a public URL.")
    file_size = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["user", "-requested_at"], name="accounts_export_user_requested"),
            models.Index(fields=["status", "expires_at"], name="accounts_export_status_expiry"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(status__in=DATA_EXPORT_ACTIVE), name="accounts_export_one_active",
                violation_error_message="An export of your data is already being prepared.",
            ),
        ]

    def __str__(self) -> str:
        return f"Export for {self.user_id} ({self.status})"

    @property
    def state(self) -> str:
        """The status a member sees: a ready export past its expiry is expired before the tidy task runs."""
        if self.status == DataExportStatus.READY and self.expires_at is not None and self.expires_at <= timezone.now():
            return DataExportStatus.EXPIRED
        return self.status
