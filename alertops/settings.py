"""Settings, read from environment variables with safe development defaults.

Every variable is documented in the README. Development needs none of them:
SQLite, the ORM broker, console email and a local Twilio stand-in.
"""

import os
from pathlib import Path

import dj_database_url

from alertops.lib.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", True)
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "alertops.apps.AlertOpsConfig",
    "accounts",
    "groups",
    "schedules",
    "escalation",
    "integrations",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_q",
    "anymail",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.timezones.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "alertops.urls"
WSGI_APPLICATION = "alertops.wsgi.application"

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
                "accounts.context.permissions",
            ],
        },
    },
]

# Database: SQLite by default (WAL, immediate transactions, a busy timeout, so
# the web workers and the q cluster can write side by side), PostgreSQL when
# DATABASE_URL is set.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "alertops.sqlite3")),
            # django-q closes "old" connections around every task: without a
            # lifetime each task would reopen the file and rerun the PRAGMAs.
            "CONN_MAX_AGE": 600,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Background work: django-q2. The ORM broker on the main database by default,
# Redis when REDIS_URL is set. The broker only wakes workers: the database is
# the queue of record (alerts' next_action_at, pending notifications).
REDIS_URL = env_str("REDIS_URL")
Q_CLUSTER = {
    "name": "alertops",
    # One worker per core for deliveries, plus one for the engine's ticker:
    # more only contend for the CPU (measured with `make bench`).
    "workers": env_int("Q_WORKERS", (os.cpu_count() or 1) + 1),
    # A task (the ticker runs ~20 s) is stopped after `timeout` seconds and an
    # unacknowledged one is delivered again after `retry`: timeout < retry.
    "timeout": 60,
    "retry": 90,
    "max_attempts": 3,
    "catch_up": False,
    # Successful tasks are not stored (every notification would write one);
    # failed ones are, for the admin's Failed tasks page.
    "save_limit": -1,
    "ack_failures": True,
    "poll": 0.1,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Email: django-anymail. EMAIL_PROVIDER names any ESP that anymail supports
# (postmark, sendgrid, mailgun, amazon_ses, ...); its credentials come from
# ANYMAIL_<ESP>_<SETTING> environment variables. Without one, messages go
# through anymail's console backend: printed, recorded, never sent.
EMAIL_PROVIDER = env_str("EMAIL_PROVIDER")
MAILERS = {
    "default": {
        "BACKEND": (
            f"anymail.backends.{EMAIL_PROVIDER}.EmailBackend"
            if EMAIL_PROVIDER
            else "anymail.backends.console.EmailBackend"
        ),
    }
}
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_")
}
# An ESP that does not answer within 10 s counts as a temporary failure.
ANYMAIL.setdefault("REQUESTS_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "AlertOps <alerts@alertops.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# SMS and voice: Twilio. Without credentials the twilio client talks to a
# local development stand-in instead of the network (see
# escalation/transports/twilio_client.py).
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "+15005550006")

# Escalation engine tuning.
RESPONDER_LINK_MAX_AGE = env_int("RESPONDER_LINK_MAX_AGE", 7 * 24 * 3600)
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5)
# Rate limits per number and channel for SMS and voice (0 turns one off). What
# is held back is delayed and bundled into one message, never dropped.
THROTTLE_SMS_VOICE_PER_MINUTE = env_int("THROTTLE_SMS_VOICE_PER_MINUTE", 1)
THROTTLE_SMS_VOICE_PER_15_MINUTES = env_int("THROTTLE_SMS_VOICE_PER_15_MINUTES", 5)
INGEST_MAX_BODY_BYTES = 512 * 1024
# The inbound log keeps each request this many days; a daily task prunes older rows.
INBOUND_LOG_RETENTION_DAYS = env_int("INBOUND_LOG_RETENTION_DAYS", 30)
# Inbound email: an email integration's address is <key>@INBOUND_EMAIL_DOMAIN
# (the domain whose mail the ESP or the local mail server hands over).
INBOUND_EMAIL_DOMAIN = env_str("INBOUND_EMAIL_DOMAIN", "inbound.alertops.localhost")
# The largest email taken, attachments included (ESPs accept 25-35 MB). The
# inbound log keeps the first INGEST_MAX_BODY_BYTES of each. Request bodies
# may be this big (plus base64's third, for ESPs that post JSON) so an ESP's
# webhook is not refused before it is read; webhook URLs keep their own cap.
INBOUND_EMAIL_MAX_BYTES = env_int("INBOUND_EMAIL_MAX_BYTES", 25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, INBOUND_EMAIL_MAX_BYTES * 4 // 3 + 1024 * 1024)
# Mail reaches it through anymail's ESP webhooks (/anymail/<esp>/inbound/), the
# raw-MIME endpoint /inbound/email/ and `manage.py receive_email`; the first two
# check HTTP basic auth against ANYMAIL_WEBHOOK_SECRET ("user:password"), and the
# raw endpoint refuses everything while it is unset.
# Outbound webhooks: targets in private, loopback or link-local networks are
# refused unless this is on (a webhook must not reach into the service's own
# network); each attempt gives up after OUTBOUND_WEBHOOK_TIMEOUT seconds.
OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = env_bool("OUTBOUND_WEBHOOKS_ALLOW_PRIVATE", False)
OUTBOUND_WEBHOOK_TIMEOUT = env_int("OUTBOUND_WEBHOOK_TIMEOUT", 10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django_q": {"level": env_str("Q_LOG_LEVEL", "WARNING"), "propagate": True}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = PUBLIC_BASE_URL.startswith("https://")
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
