"""Liudong settings: one base, differences through the environment.

Every environment variable is read here and nowhere else. Development and
test get working defaults; production (``DJANGO_ENV=production``) refuses to
start without its secrets.
"""

import datetime
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be development, test or production, not {DJANGO_ENV!r}"
    )
PRODUCTION = DJANGO_ENV == "production"

# Development keys are public on purpose: they make a fresh clone run. The
# production check below refuses them.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105
_DEV_ENCRYPTION_KEYS = "dev1:ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE="
_DEV_BLIND_INDEX_KEY = "ZGV2LW9ubHktYmxpbmQtaW5kZXgta2V5LTMyYnl0ZXM="

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_DEV_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=DJANGO_ENV == "development")
# Production names its hosts; a default there would answer 400 to every
# request instead of failing at start.
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Field encryption: "kid:base64key,kid:base64key"; the first key encrypts,
# every key decrypts (so keys can be rotated). The blind-index key is
# separate so that rotating encryption keys never changes look-up hashes.
LIUDONG_ENCRYPTION_KEYS = env.str(
    "LIUDONG_ENCRYPTION_KEYS", default=_DEV_ENCRYPTION_KEYS
)
LIUDONG_BLIND_INDEX_KEY = env.str(
    "LIUDONG_BLIND_INDEX_KEY", default=_DEV_BLIND_INDEX_KEY
)

# Without Redis (scripts/run on a machine that has none) the cache lives in
# each process and Celery tasks run in the process that sends them.
LIUDONG_NO_REDIS = env.bool("LIUDONG_NO_REDIS", default=False)
LIUDONG_CELERY_EAGER = env.bool("LIUDONG_CELERY_EAGER", default=LIUDONG_NO_REDIS)

if PRODUCTION:
    if SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a random value of 50+ characters"
        )
    if LIUDONG_ENCRYPTION_KEYS in {"", _DEV_ENCRYPTION_KEYS}:
        raise ImproperlyConfigured("LIUDONG_ENCRYPTION_KEYS must be set")
    if LIUDONG_BLIND_INDEX_KEY in {"", _DEV_BLIND_INDEX_KEY}:
        raise ImproperlyConfigured("LIUDONG_BLIND_INDEX_KEY must be set")
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG must be off in production")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set")
    if LIUDONG_CELERY_EAGER:
        raise ImproperlyConfigured(
            "LIUDONG_CELERY_EAGER and LIUDONG_NO_REDIS are for demos, not production"
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "treebeard",
    "django_prose_editor",
    "js_asset",
    "organizations",
    "members",
    "dues",
    "learning",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/liudong"
    )
}
# Persistent connections: a connection per request cut throughput to a
# fifth in DESIGN.md's measurements.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache"
        if LIUDONG_NO_REDIS
        else "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "" if LIUDONG_NO_REDIS else REDIS_URL,
        "KEY_PREFIX": f"liudong-{DJANGO_ENV}",
    }
}

AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "members.auth.UsernameOrPhoneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

# django-allauth: members come from rosters, never from self-service
# sign-up (see members.adapters).
ACCOUNT_ADAPTER = "members.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
# The username field also takes a mobile phone (members.auth); the form's
# label says so.
ACCOUNT_FORMS = {"login": "members.forms.LoginForm"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PASSWORD_MIN_LENGTH = 12
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("LIUDONG_SESSION_AGE_SECONDS", default=12 * 3600)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production WhiteNoise serves straight from the source folders, so
# nothing needs collectstatic before runserver or the tests.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not PRODUCTION
MEDIA_ROOT = env.path("LIUDONG_MEDIA_ROOT", default=BASE_DIR / "var" / "media")

EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="noreply@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    # "list" covers list and search calls, "reveal" full ID numbers (scoped
    # per action through config.api.ActionThrottleMixin).
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("LIUDONG_API_RATE", "600/min"),
        "list": env.str("LIUDONG_API_LIST_RATE", "120/min"),
        "reveal": env.str("LIUDONG_API_REVEAL_RATE", "30/hour"),
    },
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Liudong API",
    "DESCRIPTION": "Organisations and members, scoped to the caller's roles.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI otherwise sends the schema's address to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "MemberStatusEnum": "members.models.Member.Status",
        "CorrectionStatusEnum": "members.models.CorrectionRequest.Status",
        "TransferStateEnum": "organizations.models.TransferState",
        "MobilityStatusEnum": "members.models.MobilityStatus",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = env.int("LIUDONG_TASK_TIME_LIMIT", default=3600)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# In-process tasks are fine for a demo and wrong for anything else; the
# production check above refuses them and config.wsgi warns when serving.
CELERY_TASK_ALWAYS_EAGER = LIUDONG_CELERY_EAGER
CELERY_TASK_EAGER_PROPAGATES = True

# Domain settings (DESIGN.md marks these as local practice or settings).
LIUDONG_SCOPE_FULL_ID_ROLES = ["secretary", "organiser", "committee_staff"]
# Full ID numbers one person may reveal in an hour, admin and API together.
LIUDONG_REVEALS_PER_HOUR = env.int("LIUDONG_REVEALS_PER_HOUR", default=30)

# Transfers (DESIGN.md §3). A letter's validity defaults to 30 days and may
# not exceed the maximum; the database refuses more than 90 whatever is set
# here, so the maximum can be lowered, never raised.
LIUDONG_TRANSFER_VALIDITY_DAYS = env.int("LIUDONG_TRANSFER_VALIDITY_DAYS", default=30)
LIUDONG_TRANSFER_VALIDITY_MAX_DAYS = env.int(
    "LIUDONG_TRANSFER_VALIDITY_MAX_DAYS", default=90
)
if not 1 <= LIUDONG_TRANSFER_VALIDITY_DAYS <= LIUDONG_TRANSFER_VALIDITY_MAX_DAYS <= 90:
    raise ImproperlyConfigured(
        "Transfer validity must satisfy 1 <= LIUDONG_TRANSFER_VALIDITY_DAYS <= "
        "LIUDONG_TRANSFER_VALIDITY_MAX_DAYS <= 90"
    )
# How far "dues paid through" must reach on a letter: "previous_month" (the
# month before issue, the national rule) or "issue_month" (local practice).
LIUDONG_TRANSFER_DUES_THROUGH = env.str(
    "LIUDONG_TRANSFER_DUES_THROUGH", default="previous_month"
)
if LIUDONG_TRANSFER_DUES_THROUGH not in {"previous_month", "issue_month"}:
    raise ImproperlyConfigured(
        "LIUDONG_TRANSFER_DUES_THROUGH must be previous_month or issue_month"
    )
# The receiving committee returns the receipt (回执) within this many months
# of the member's arrival.
LIUDONG_TRANSFER_RECEIPT_DUE_MONTHS = env.int(
    "LIUDONG_TRANSFER_RECEIPT_DUE_MONTHS", default=1
)
LIUDONG_TRANSFER_SCAN_MAX_BYTES = env.int(
    "LIUDONG_TRANSFER_SCAN_MAX_BYTES", default=10 * 1024 * 1024
)
# Mobility: a member settled this long at one place is prompted to transfer
# (DESIGN.md §3); a registered member should report to an inflow
# organisation within this many days of leaving (local practice).
LIUDONG_MOBILITY_SETTLED_MONTHS = env.int("LIUDONG_MOBILITY_SETTLED_MONTHS", default=6)
LIUDONG_MOBILITY_REPORT_DUE_DAYS = env.int(
    "LIUDONG_MOBILITY_REPORT_DUE_DAYS", default=30
)
# Roster import in the admin (members.imports). A 100,000-row CSV with every
# column of the export is about 25 MB; larger uploads are refused (the web
# server's body limit should sit just above this). Files above the inline
# size are checked and written by a Celery task with a progress bar instead
# of in the request; uploads not committed are deleted after the retention.
LIUDONG_ROSTER_IMPORT_MAX_BYTES = env.int(
    "LIUDONG_ROSTER_IMPORT_MAX_BYTES", default=64 * 1024 * 1024
)
LIUDONG_ROSTER_IMPORT_INLINE_MAX_BYTES = env.int(
    "LIUDONG_ROSTER_IMPORT_INLINE_MAX_BYTES", default=512 * 1024
)
LIUDONG_ROSTER_IMPORT_RETENTION_DAYS = env.int(
    "LIUDONG_ROSTER_IMPORT_RETENTION_DAYS", default=7
)

# Dues (DESIGN.md, dues). Amounts round half-up to the fen unless a province
# rules otherwise. Making up more than this many months of arrears, or paying
# more than this many months ahead, needs the secretary's approval.
LIUDONG_DUES_ROUNDING = env.str("LIUDONG_DUES_ROUNDING", default="ROUND_HALF_UP")
if LIUDONG_DUES_ROUNDING not in {"ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_DOWN"}:
    raise ImproperlyConfigured(
        "LIUDONG_DUES_ROUNDING must be ROUND_HALF_UP, ROUND_HALF_EVEN or ROUND_DOWN"
    )
# The first month the platform keeps a ledger for; months before it were
# collected on paper and are not owed here.
try:
    LIUDONG_DUES_LEDGER_START = datetime.date.fromisoformat(
        env.str("LIUDONG_DUES_LEDGER_START", default="2026-01-01")
    )
except ValueError:
    LIUDONG_DUES_LEDGER_START = None
if LIUDONG_DUES_LEDGER_START is None or LIUDONG_DUES_LEDGER_START.day != 1:
    raise ImproperlyConfigured(
        "LIUDONG_DUES_LEDGER_START must be a first of month (YYYY-MM-01)"
    )
LIUDONG_DUES_MAX_ARREARS_MONTHS = env.int("LIUDONG_DUES_MAX_ARREARS_MONTHS", default=6)
LIUDONG_DUES_MAX_AHEAD_MONTHS = env.int("LIUDONG_DUES_MAX_AHEAD_MONTHS", default=6)
# The gateway members pay through: sandbox (demo and tests), wechat, alipay.
LIUDONG_DUES_GATEWAY = env.str("LIUDONG_DUES_GATEWAY", default="sandbox")
if LIUDONG_DUES_GATEWAY not in {"sandbox", "wechat", "alipay"}:
    raise ImproperlyConfigured("LIUDONG_DUES_GATEWAY must be sandbox, wechat or alipay")
if PRODUCTION and LIUDONG_DUES_GATEWAY == "sandbox":
    raise ImproperlyConfigured("the sandbox dues gateway is not for production")
# Signs the sandbox gateway's callbacks; any value outside production.
LIUDONG_DUES_SANDBOX_SECRET = env.str(
    "LIUDONG_DUES_SANDBOX_SECRET", default="sandbox-not-a-secret"
)
# An order still pending after this many minutes is asked about by the
# reconciliation job (a lost callback); unpaid orders close after a day.
LIUDONG_DUES_RECONCILE_AFTER_MINUTES = env.int(
    "LIUDONG_DUES_RECONCILE_AFTER_MINUTES", default=15
)
LIUDONG_DUES_ORDER_TTL_HOURS = env.int("LIUDONG_DUES_ORDER_TTL_HOURS", default=24)
# The base URL gateways call back and return to (scheme and host, no slash).
LIUDONG_PUBLIC_URL = env.str("LIUDONG_PUBLIC_URL", default="http://127.0.0.1:8000")
# WeChat Pay API v3 (merchant id, app id, certificate serial, private key
# file, API v3 key, platform certificate directory) and Alipay (app id,
# private key file, Alipay public key file, sandbox flag).
WECHATPAY_MCHID = env.str("WECHATPAY_MCHID", default="")
WECHATPAY_APPID = env.str("WECHATPAY_APPID", default="")
WECHATPAY_CERT_SERIAL_NO = env.str("WECHATPAY_CERT_SERIAL_NO", default="")
WECHATPAY_PRIVATE_KEY_FILE = env.str("WECHATPAY_PRIVATE_KEY_FILE", default="")
WECHATPAY_APIV3_KEY = env.str("WECHATPAY_APIV3_KEY", default="")
WECHATPAY_CERT_DIR = env.str("WECHATPAY_CERT_DIR", default="")
ALIPAY_APPID = env.str("ALIPAY_APPID", default="")
ALIPAY_PRIVATE_KEY_FILE = env.str("ALIPAY_PRIVATE_KEY_FILE", default="")
ALIPAY_PUBLIC_KEY_FILE = env.str("ALIPAY_PUBLIC_KEY_FILE", default="")
ALIPAY_SANDBOX = env.bool("ALIPAY_SANDBOX", default=False)

# Organisational life (issue 6). Check-in opens this many minutes before a
# meeting starts; recurring meetings are planned this many months ahead.
LIUDONG_MEETING_CHECKIN_OPENS_MINUTES = env.int(
    "LIUDONG_MEETING_CHECKIN_OPENS_MINUTES", default=15
)
LIUDONG_MEETING_SERIES_MONTHS_AHEAD = env.int(
    "LIUDONG_MEETING_SERIES_MONTHS_AHEAD", default=3
)
# Files kept with a meeting's minutes: PDF, images and office documents.
LIUDONG_MEETING_ATTACHMENT_MAX_BYTES = env.int(
    "LIUDONG_MEETING_ATTACHMENT_MAX_BYTES", default=20 * 1024 * 1024
)
# Who tells members of their invitations: console (logs them, development),
# mail (to the member's e-mail address) or a dotted path to a class with
# send(message) for an SMS provider.
LIUDONG_NOTIFIER = env.str(
    "LIUDONG_NOTIFIER",
    default="mail" if PRODUCTION else "console",
)

# Study (issue 7). The portal sends a heartbeat every HEARTBEAT seconds
# while the page is visible and in use; a gap longer than IDLE counts
# nothing. Yearly targets are DESIGN.md's (members; secretaries and
# committee members).
LIUDONG_STUDY_HEARTBEAT_SECONDS = env.int("LIUDONG_STUDY_HEARTBEAT_SECONDS", default=30)
LIUDONG_STUDY_IDLE_SECONDS = env.int("LIUDONG_STUDY_IDLE_SECONDS", default=90)
LIUDONG_STUDY_YEARLY_HOURS = env.int("LIUDONG_STUDY_YEARLY_HOURS", default=32)
LIUDONG_STUDY_YEARLY_HOURS_CADRES = env.int(
    "LIUDONG_STUDY_YEARLY_HOURS_CADRES", default=56
)
# Share of a course's credit time a member must have studied (counted
# seconds) before completion credits the course's hours; 1.0 means the full
# credit time, so credited hours never exceed the time counted.
LIUDONG_STUDY_COMPLETION_SHARE = env.float(
    "LIUDONG_STUDY_COMPLETION_SHARE", default=1.0
)
# FSRS (memory-based review): the retention the schedule aims at, and the
# model's parameters (comma-separated; empty means the library's defaults).
LIUDONG_FSRS_DESIRED_RETENTION = env.float(
    "LIUDONG_FSRS_DESIRED_RETENTION", default=0.9
)
LIUDONG_FSRS_PARAMETERS = env.str("LIUDONG_FSRS_PARAMETERS", default="")

LOG_LEVEL = env.str("LIUDONG_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # key=value pairs so operators can grep and ship them as they are.
        "plain": {
            "format": "ts=%(asctime)s level=%(levelname)s logger=%(name)s "
            "msg=%(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler would print its records a second time,
        # unformatted; they reach the root handler instead.
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        # runserver's request lines, in the same format as everything else.
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
        },
    },
}

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
