"""Agentwise settings: one module, driven by the environment.

With no environment at all it boots on embedded defaults (SQLite, local-memory cache, in-memory
channel layer, eager Celery). ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
With ``DJANGO_DEBUG`` off, missing secrets stop start-up with a clear message.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=True)

_INSECURE_DEV_KEY = "django-insecure-dev-only-key-never-use-in-production-agentwise"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. It is required when DJANGO_DEBUG is off "
            '(generate one: python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
    SECRET_KEY = _INSECURE_DEV_KEY

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
SITE_ID = 1

INSTALLED_APPS = [
    # daphne first: `runserver` then serves HTTP and websockets through ASGI.
    "daphne",
    "agentwise.apps.AgentwiseAdminConfig",  # django.contrib.admin, its index the moderation dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "allauth.mfa",
    "allauth.usersessions",
    "anymail",
    "djstripe",
    "agentwise.apps.AgentwiseConfig",
    "accounts",
    "projects",
    "community",
    "content",
    "moderation",
    "billing",
]

MIDDLEWARE = [
    "agentwise.middleware.ServedByMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files are neither counted nor refused; before everything else, so a
    # blocked address costs one cache read (docs/bot-detection.md).
    "moderation.middleware.BotDetectionMiddleware",
    "agentwise.middleware.ApiRequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "moderation.middleware.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "agentwise.middleware.RefusalMiddleware",
]

# Names this process in an ``X-Served-By`` response header when set (``python -m agentwise.cluster`` sets
# web.1, web.2): shows which process behind the load balancer answered. Unset: no header.
PROCESS_NAME = env.str("AGENTWISE_PROCESS_NAME", default="")

ROOT_URLCONF = "agentwise.urls"
WSGI_APPLICATION = "agentwise.wsgi.application"
ASGI_APPLICATION = "agentwise.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "agentwise.context_processors.site",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections in production: a websocket frame that touches the database would otherwise
# open a new PostgreSQL connection (benchmarks/realtime.py: chat delivery p50 37 ms -> 22 ms).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=0 if DEBUG else 60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the dev server, a Celery worker and tests share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # Writers take the lock when their transaction starts, so concurrent writers wait their
            # turn (up to `timeout`) instead of failing on a read-to-write lock upgrade.
            "transaction_mode": "IMMEDIATE",
        }
    )
    # A file (not :memory:) so `pytest --reuse-db` can skip the ~40 s of migrations on later runs.
    DATABASES["default"].setdefault("TEST", {"NAME": str(BASE_DIR / ".test-db.sqlite3")})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="aw")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
    # "pubsub" (default): a group message crosses Redis once per process and is fanned out to that
    # process's sockets in memory. "core": channels-redis's list-based layer, one copy per socket
    # through Redis; it saturated at ~2,200 deliveries/s on 2 CPUs (docs/performance.md).
    CHANNEL_LAYER = env.str("CHANNEL_LAYER", default="pubsub")
    if CHANNEL_LAYER not in {"pubsub", "core"}:
        raise ImproperlyConfigured(f"CHANNEL_LAYER must be 'pubsub' or 'core', not {CHANNEL_LAYER!r}.")
    _layer_host = {"address": REDIS_URL, "socket_timeout": None}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_layer_host], "prefix": env.str("CHANNEL_LAYER_PREFIX", default="aw:ws")},
        }
        if CHANNEL_LAYER == "pubsub"
        else {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # socket_timeout None: redis-py 8 would otherwise time out channels-redis's
                # blocking reads after 5 s and kill idle websockets (channels_redis#422).
                "hosts": [_layer_host],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="aw:ws"),
                "capacity": 1500,
                "expiry": 60,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if REDIS_URL else "django.contrib.sessions.backends.db"

# --- Celery ------------------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# Without a broker, tasks run in-process so the embedded setup needs no worker. Any real broker (Redis,
# or RabbitMQ's amqp://) sends them to the workers.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL.startswith("memory://"))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="agentwise")
# Seconds before a failed email is tried again (a temporary SMTP refusal, a provider outage).
EMAIL_RETRY_SECONDS = env.int("EMAIL_RETRY_SECONDS", default=60)
# The wait doubles on each failure up to this cap; after EMAIL_MAX_ATTEMPTS (about a day of outage at
# the defaults) the email is marked failed and shows in the admin (agentwise.mail).
EMAIL_RETRY_MAX_SECONDS = env.int("EMAIL_RETRY_MAX_SECONDS", default=3600)
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=40)
CELERY_TIMEZONE = "UTC"
# The hour (UTC) a notification digest day starts: at most one digest per user from one such hour to the next.
NOTIFICATION_DIGEST_HOUR = env.int("NOTIFICATION_DIGEST_HOUR", default=7)
if not 0 <= NOTIFICATION_DIGEST_HOUR <= 23:
    raise ImproperlyConfigured(f"NOTIFICATION_DIGEST_HOUR must be an hour from 0 to 23, not {NOTIFICATION_DIGEST_HOUR}.")
# "Your data" exports (docs/privacy.md): how long the emailed link works (and the zip is kept), and
# how long after one request the next one is refused.
DATA_EXPORT_LINK_DAYS = env.int("DATA_EXPORT_LINK_DAYS", default=7)
DATA_EXPORT_INTERVAL_HOURS = env.int("DATA_EXPORT_INTERVAL_HOURS", default=24)
CELERY_BEAT_SCHEDULE = {
    "purge-deleted-projects": {
        "task": "projects.tasks.purge_deleted_projects_task",
        "schedule": 60 * 60 * 6,  # every 6 hours; purges projects deleted more than 30 days ago
    },
    "sweep-attachments": {
        "task": "community.tasks.attachments_sweep_task",
        "schedule": 60 * 60,  # hourly: files of deleted messages, uploads never attached within a day
    },
    "publish-due-content": {
        "task": "content.tasks.publish_due_task",
        "schedule": 60,  # every minute: scheduled blog posts and draft revisions go live on time
    },
    "newsletter-tick": {
        "task": "content.tasks.newsletter_tick_task",
        # every minute: scheduled campaigns start on time; stalled ones are picked up again
        "schedule": env.float("NEWSLETTER_TICK_SECONDS", default=60),
    },
    "notification-digest": {
        "task": "accounts.tasks.notification_digest_task",
        # hourly: each user's daily digest goes out on the first run of their digest day that finds something
        "schedule": env.float("NOTIFICATION_DIGEST_SECONDS", default=60 * 60),
    },
    "data-exports-tidy": {
        "task": "accounts.tasks.data_exports_tidy_task",
        # hourly: removes export files whose link expired; hands lost or stalled builds to a worker again
        "schedule": 60 * 60,
    },
    "requeue-stale-emails": {
        "task": "agentwise.tasks.requeue_stale_emails_task",
        "schedule": 60,  # every minute; emails whose task was lost or whose worker died mid-send
    },
}

# --- Auth --------------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
# Domain rules (each app's permissions.py, asked through agentwise.access) are not Django permissions:
# admin model access is Django's own permissions only, and superusers get no bypass of a domain rule.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_USER_MODEL_EMAIL_FIELD = "email"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_PRESERVE_USERNAME_CASING = True
ACCOUNT_USERNAME_MIN_LENGTH = 3
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
# allauth's defaults, stated so they are visibly on: failed logins, sign-ups, resets per IP/key.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/180s/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
ACCOUNT_ALLOW_SIGNUPS = env.bool("ACCOUNT_ALLOW_SIGNUPS", default=True)

SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS: dict = {
    "github": {"SCOPE": ["read:user", "user:email"]},
    "google": {"SCOPE": ["profile", "email"], "AUTH_PARAMS": {"access_type": "online"}},
}
# A provider is offered (and its button shown) only when its credentials are in the environment.
for _provider, _prefix in (("github", "GITHUB"), ("google", "GOOGLE")):
    _client_id = env.str(f"{_prefix}_CLIENT_ID", default="")
    _secret = env.str(f"{_prefix}_CLIENT_SECRET", default="")
    if _client_id and _secret:
        SOCIALACCOUNT_PROVIDERS[_provider]["APPS"] = [{"client_id": _client_id, "secret": _secret, "key": ""}]

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Agentwise"
USERSESSIONS_TRACK_ACTIVITY = True
USERSESSIONS_ADAPTER = "accounts.receivers.UserSessionsAdapter"

# --- Email ------------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Agentwise <hello@agentwise.localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ANYMAIL: dict = {}
# An anymail provider's key selects that provider; otherwise EMAIL_URL (smtp://, consolemail://...).
_ANYMAIL_PROVIDERS = [
    ("SENDGRID_API_KEY", "sendgrid", {"SENDGRID_API_KEY"}),
    ("RESEND_API_KEY", "resend", {"RESEND_API_KEY"}),
    ("POSTMARK_SERVER_TOKEN", "postmark", {"POSTMARK_SERVER_TOKEN"}),
    ("MAILGUN_API_KEY", "mailgun", {"MAILGUN_API_KEY", "MAILGUN_SENDER_DOMAIN"}),
    ("BREVO_API_KEY", "brevo", {"BREVO_API_KEY"}),
]
EMAIL_BACKEND = ""
for _key, _esp, _names in _ANYMAIL_PROVIDERS:
    if env.str(_key, default=""):
        EMAIL_BACKEND = f"anymail.backends.{_esp}.EmailBackend"
        ANYMAIL.update({name: env.str(name, default="") for name in _names})
        break
if not EMAIL_BACKEND:
    globals().update(env.email_url("EMAIL_URL", default="consolemail://"))
# Seconds before a silent SMTP server fails the send (Django's default is to wait forever, which
# would hold a worker and outlive the outbox's claim on the email).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Newsletter (docs/newsletter.md) ----------------------------------------------------------

NEWSLETTER_FROM_EMAIL = env.str("NEWSLETTER_FROM_EMAIL", default=DEFAULT_FROM_EMAIL)
# The mailto: half of List-Unsubscribe; empty: unsubscribe@ the sending domain.
NEWSLETTER_UNSUBSCRIBE_MAILTO = env.str("NEWSLETTER_UNSUBSCRIBE_MAILTO", default="")
# Recipients per Celery task, and rows a sender claims at once (cancel and pause act between claims).
NEWSLETTER_BATCH_SIZE = env.int("NEWSLETTER_BATCH_SIZE", default=500)
NEWSLETTER_CLAIM_CHUNK = env.int("NEWSLETTER_CLAIM_CHUNK", default=50)
# How long a claim lasts without its sender renewing it; a dead sender's rows are taken over after it.
NEWSLETTER_CLAIM_SECONDS = env.int("NEWSLETTER_CLAIM_SECONDS", default=max(120, 4 * EMAIL_TIMEOUT))
# Messages per second across every worker (the provider's sending rate); 0 sends as fast as it can.
NEWSLETTER_RATE_PER_SECOND = env.int("NEWSLETTER_RATE_PER_SECOND", default=0)
# Temporary provider errors are retried with back-off (doubling from RETRY_SECONDS up to the cap) until
# MAX_ATTEMPTS; a throttling reply backs off without spending an attempt.
NEWSLETTER_MAX_ATTEMPTS = env.int("NEWSLETTER_MAX_ATTEMPTS", default=5)
NEWSLETTER_RETRY_SECONDS = env.int("NEWSLETTER_RETRY_SECONDS", default=30)
NEWSLETTER_RETRY_MAX_SECONDS = env.int("NEWSLETTER_RETRY_MAX_SECONDS", default=900)
# A sending campaign whose senders made no progress this long is fanned out again by the beat task
# (its tasks were lost with a killed worker, or the broker was down when it started).
NEWSLETTER_STALL_SECONDS = env.int("NEWSLETTER_STALL_SECONDS", default=90)
# A campaign pauses itself once this share of its attempts failed, after at least MIN_SAMPLE attempts.
NEWSLETTER_PAUSE_ERROR_RATE = env.float("NEWSLETTER_PAUSE_ERROR_RATE", default=0.1)
NEWSLETTER_PAUSE_MIN_SAMPLE = env.int("NEWSLETTER_PAUSE_MIN_SAMPLE", default=50)
# Tracking webhooks (/anymail/<esp>/tracking/) answer only for an ESP whose signature or basic-auth
# secret is configured: an unauthenticated bounce webhook would let anyone unsubscribe anyone.
ANYMAIL["WEBHOOK_SECRET"] = env.str("ANYMAIL_WEBHOOK_SECRET", default="")
for _name in [
    "MAILGUN_WEBHOOK_SIGNING_KEY",
    "RESEND_SIGNING_SECRET",
    "POSTAL_WEBHOOK_KEY",
    "MAILERSEND_WEBHOOK_SIGNING_SECRET",
]:
    if env.str(_name, default=""):
        ANYMAIL[_name] = env.str(_name)
if not ANYMAIL["WEBHOOK_SECRET"]:
    del ANYMAIL["WEBHOOK_SECRET"]

# --- Community realtime ----------------------------------------------------------------------

COMMUNITY_POST_RATE = {
    "messages": env.int("COMMUNITY_POST_RATE_MESSAGES", default=10),
    "seconds": env.int("COMMUNITY_POST_RATE_SECONDS", default=10),
}
# Presence lives in Redis (when configured) with a TTL refreshed by heartbeats, so a dead process's
# sockets drop out of presence by themselves within PRESENCE_TTL_SECONDS.
PRESENCE_TTL_SECONDS = env.int("PRESENCE_TTL_SECONDS", default=30)
PRESENCE_HEARTBEAT_SECONDS = env.float("PRESENCE_HEARTBEAT_SECONDS", default=10)
# Presence changes are announced in batches at most this often per channel and process.
PRESENCE_DIFF_BATCH_SECONDS = env.float("PRESENCE_DIFF_BATCH_SECONDS", default=0.25)
TYPING_TTL_SECONDS = env.float("TYPING_TTL_SECONDS", default=6)
# Consecutive rate-limited frames after which a flooding socket is closed with 4429.
WS_FLOOD_STRIKES = env.int("WS_FLOOD_STRIKES", default=20)
# Open sockets one user may hold across every process; the next connection is closed with 4429.
WS_MAX_SOCKETS_PER_USER = env.int("WS_MAX_SOCKETS_PER_USER", default=20)

# Per-user write limits, across REST and every socket on every process (agentwise/ratelimits.py).
# Syntax: the `limits` library's ("10/minute", "1 per 3 seconds").
RATE_LIMITS = {
    "community.edit": env.str("RATE_LIMIT_EDITS", default="30/minute"),
    "community.delete": env.str("RATE_LIMIT_DELETES", default="30/minute"),
    "community.moderation": env.str("RATE_LIMIT_MODERATION", default="1200/minute"),  # staff edits and deletes
    "community.reaction": env.str("RATE_LIMIT_REACTIONS", default="60/minute"),
    "community.preview": env.str("RATE_LIMIT_FORUM_PREVIEWS", default="60/minute"),  # forum composer previews
    # One typing:start broadcast per user per channel per window; frames between are absorbed.
    "community.typing": env.str("RATE_LIMIT_TYPING", default="1 per 3 seconds"),
    "community.upload": env.str("RATE_LIMIT_UPLOADS", default="60/hour"),
    # Bytes uploaded per user per day.
    "community.upload_bytes": env.str("RATE_LIMIT_UPLOAD_BYTES", default=f"{200 * 1024 * 1024}/day"),
    "projects.invite": env.str("RATE_LIMIT_INVITATIONS", default="30/hour"),
    "accounts.api_key": env.str("RATE_LIMIT_API_KEYS", default="20/hour"),
    # Newsletter sign-ups per client address, and confirmation emails per subscriber address.
    "newsletter.subscribe": env.str("RATE_LIMIT_NEWSLETTER_SUBSCRIBE", default="10/hour"),
    "newsletter.confirmation": env.str("RATE_LIMIT_NEWSLETTER_CONFIRMATION", default="3/hour"),
}

# --- Internationalisation, static, media -------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("DJANGO_STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Django's own request-size limits; the API has its own, answered with a JSON 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
API_MAX_REQUEST_BYTES = env.int("API_MAX_REQUEST_BYTES", default=1_048_576)
AVATAR_MAX_BYTES = 2 * 1024 * 1024

# --- Django REST Framework -------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "agentwise.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "agentwise.api.throttling.UserRateThrottle",  # DRF's rule, one Redis round trip
        "billing.throttling.PlanApiCallsThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="120/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only: the API has no file uploads, and one media type keeps the schema honest.
    "DEFAULT_PARSER_CLASSES": ["agentwise.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "agentwise.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "agentwise.api.errors.exception_handler",
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Agentwise API",
    "DESCRIPTION": (
        "Projects, agent-run metering, community and content.\n\n"
        "Authenticate with a personal API key (`Authorization: Bearer aw_...`, created under "
        "Account → API keys) or a browser session (send the CSRF token on writes). Every error "
        'has the shape `{"error": {"code", "message", "fields"}}`. Lists are paginated with '
        "`?page=` and `?page_size=` (max 100)."
    ),
    "VERSION": "1.0.0",
    # 3.1 (JSON Schema 2020-12) can say what free-form JSON objects take (propertyNames).
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "agentwise.api.schema.add_error_responses",
        "agentwise.api.schema.document_string_rules",
        "community.api.schema.document_message_content",
        "projects.api.schema.document_invitation_target",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ProjectStatusEnum": "projects.models.ProjectStatus",
        "ProjectWritableStatusEnum": [("active", "active"), ("archived", "archived")],
        "ExecutionStatusEnum": "projects.models.ExecutionStatus",
        "ExecutionFinishStatusEnum": [("completed", "Completed"), ("failed", "Failed")],
        "CollaboratorRoleEnum": "projects.models.CollaboratorRole",
        "InvitableRoleEnum": [("editor", "Editor"), ("viewer", "Viewer")],
        "PublicationStatusEnum": "content.models.PublicationStatus",
        "NotificationDeliveryEnum": "accounts.notification_kinds.CHOOSABLE_CHOICES",
        "NotificationImmediateEnum": "accounts.notification_kinds.IMMEDIATE_CHOICES",
    },
}

# --- Security ---------------------------------------------------------------------------------

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"  # Django's default, stated: the session cookie is not sent on cross-site POSTs
CSRF_COOKIE_SAMESITE = "Lax"
# How many proxies of ours sit in front of daphne, each appending to X-Forwarded-For and setting
# X-Forwarded-Proto. The client writes whatever precedes their entries, so with 0 (no proxy) those headers
# are ignored. One count for daphne (agentwise.web, agentwise.daphne), agentwise.net.client_ip, allauth's
# and DRF's per-IP limits. DJANGO_BEHIND_PROXY=1, the older switch, means one proxy.
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=int(env.bool("DJANGO_BEHIND_PROXY", default=False)))
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("DJANGO_TRUSTED_PROXY_COUNT must be 0 (no proxy) or the number of proxies in front.")
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (django-csp; docs/security.md "Headers"). Scripts only from our own origin: no
# inline script or on* handler runs, whatever reaches a page. Styles keep 'unsafe-inline' (style attributes
# of the usage meters and charts, some admin and allauth templates, Redoc's run-time <style> tags); a style
# cannot run script. 'self' in connect-src covers ws(s):// to the same host (CSP Level 3).
_CSP_DIRECTIVES = {
    "default-src": [SELF],
    "script-src": [SELF, NONCE],  # a nonce is added only on a response whose template asked for one
    "style-src": [SELF, "'unsafe-inline'"],
    "img-src": [SELF, "data:", "https:"],  # avatars and post images are https URLs elsewhere
    "font-src": [SELF],
    "connect-src": [SELF],
    # Blog/docs embeds: the players content.blocks.embed_for rebuilds (tests/security/test_headers.py).
    "frame-src": ["https://www.youtube-nocookie.com", "https://player.vimeo.com", "https://www.loom.com",
                  "https://asciinema.org"],
    "worker-src": [SELF, "blob:"],  # Redoc's search worker
    "object-src": [NONE],
    "base-uri": [SELF],
    # A form posts to us; where we answer with a redirect elsewhere (Stripe Checkout and portal, sign-in
    # with GitHub or Google) browsers check the redirect against form-action too.
    "form-action": [SELF, "https://checkout.stripe.com", "https://billing.stripe.com", "https://github.com",
                    "https://accounts.google.com"],
    "frame-ancestors": [NONE],
}
if env.str("CSP_REPORT_URI", default=""):
    _CSP_DIRECTIVES["report-uri"] = [env.str("CSP_REPORT_URI")]
# DJANGO_CSP_REPORT_ONLY=1 sends the policy as Content-Security-Policy-Report-Only: violations are reported
# (and logged by the browser), nothing is blocked. For trying a stricter policy in production first.
if env.bool("DJANGO_CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": _CSP_DIRECTIVES}
else:
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": _CSP_DIRECTIVES}
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Billing (dj-stripe) ------------------------------------------------------------------------

STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_LIVE_SECRET_KEY = env.str("STRIPE_LIVE_SECRET_KEY", default="")
STRIPE_TEST_SECRET_KEY = env.str("STRIPE_TEST_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
DJSTRIPE_WEBHOOK_SECRET = env.str("DJSTRIPE_WEBHOOK_SECRET", default="")
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
# Where the stripe library sends API calls: Stripe itself, or stripe-mock / a test double on 127.0.0.1.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
# A past-due subscription keeps its paid plan this many days, then the account falls back to Free.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)
CELERY_BEAT_SCHEDULE["billing-grace-periods"] = {
    "task": "billing.tasks.grace_periods_expire_task",
    "schedule": 60 * 60,  # hourly; the limits apply Free at the grace period's end even before this runs
}

# --- Moderation (docs/moderation.md) -------------------------------------------------------------
# Audit log (docs/audit-log.md)

# Content rules (docs/content-rules.md)
# Rules scan at most this many characters of a text (a bound on regex time; longer texts are refused
# by their own length limits: messages 4,000, forum topics 20,000).
MODERATION_RULES_SCAN_CHARS = env.int("MODERATION_RULES_SCAN_CHARS", default=20_000)

# Reports, sanctions, new-user limits (docs/reports-and-sanctions.md)
# Content with open reports from this many distinct members is hidden until a moderator reviews it.
MODERATION_AUTO_HIDE_REPORTS = env.int("MODERATION_AUTO_HIDE_REPORTS", default=3)
# New accounts (and accounts with content removed or a sanction this recently) post at most
# MODERATION_NEW_USER_POST_RATE times an hour, without links or images (Discourse's trust level 0).
MODERATION_NEW_USER_DAYS = env.int("MODERATION_NEW_USER_DAYS", default=3)
MODERATION_NEW_USER_POST_RATE = env.int("MODERATION_NEW_USER_POST_RATE", default=10)
# Reports' content_type beside chat messages' own: each keeps a stable schema name.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update({
    "ReportedContentTypeEnum": "moderation.models.REPORTABLE_CHOICES",
    "ContentTypeEnum": "community.models.ContentType",
})
RATE_LIMITS["moderation.report"] = env.str("RATE_LIMIT_REPORTS", default="30/hour")  # reports filed per member
# A suspended user's session ends on its next request (moderation.middleware), after authentication and
# after the audit log's request holder, so the sign-out it causes is audited with the client's address.
MIDDLEWARE.insert(MIDDLEWARE.index("moderation.middleware.AuditRequestMiddleware") + 1,
                  "moderation.middleware.SuspensionMiddleware")
CELERY_BEAT_SCHEDULE["moderation-sanctions-tidy"] = {
    "task": "moderation.tasks.sanctions_tidy_task",
    "schedule": 60 * 60,  # hourly; expiry itself needs no job (every check reads the clock)
}

# Bot detection (docs/bot-detection.md)
MODERATION_BOT_DETECTION = env.bool("MODERATION_BOT_DETECTION", default=True)  # off: nothing counted or blocked
MODERATION_BOT_THRESHOLD = env.float("MODERATION_BOT_THRESHOLD", default=0.8)  # block above this score (0..1)
MODERATION_BOT_BLOCK_MINUTES = env.int("MODERATION_BOT_BLOCK_MINUTES", default=60)
MODERATION_BOT_WINDOW_SECONDS = env.int("MODERATION_BOT_WINDOW_SECONDS", default=60)  # the sliding window
MODERATION_BOT_MAX_REQUESTS = env.int("MODERATION_BOT_MAX_REQUESTS", default=600)  # per window, per address or user
MODERATION_BOT_MIN_REQUESTS = env.int("MODERATION_BOT_MIN_REQUESTS", default=20)  # before the error share counts
MODERATION_BOT_NOT_FOUND_BURST = env.int("MODERATION_BOT_NOT_FOUND_BURST", default=50)  # 404s per window
MODERATION_BOT_FAILED_SIGN_INS = env.int("MODERATION_BOT_FAILED_SIGN_INS", default=8)  # per window, per address
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}  # adds the honeypot field
if not 0 < MODERATION_BOT_THRESHOLD < 1:
    raise ImproperlyConfigured("MODERATION_BOT_THRESHOLD must be between 0 and 1 (exclusive).")
if min(MODERATION_BOT_BLOCK_MINUTES, MODERATION_BOT_WINDOW_SECONDS, MODERATION_BOT_MAX_REQUESTS,
       MODERATION_BOT_NOT_FOUND_BURST, MODERATION_BOT_FAILED_SIGN_INS) < 1:
    raise ImproperlyConfigured("The MODERATION_BOT_* counts and durations must be at least 1.")

# --- Logging ----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"escalate_channel_drops": {"()": "agentwise.logging.EscalateChannelLayerDrops"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},  # the library logs every request and response at INFO
        # Group messages dropped because a consumer's channel is full must not pass silently.
        "channels_redis.core": {"level": "INFO", "filters": ["escalate_channel_drops"]},
    },
}
CSRF_FAILURE_VIEW = "agentwise.views.csrf_failure"
# Debug pages and error reports also hide service URLs (Redis, broker, database, channel layer).
DEFAULT_EXCEPTION_REPORTER_FILTER = "agentwise.debug.ExceptionReporterFilter"
