"""Test settings: the real settings, with the q cluster run inline."""

from alertops.settings import *  # noqa: F403
from alertops.settings import DATABASES, Q_CLUSTER, VAR_DIR

# django-q2 reads its settings at import, so sync mode is set here, not with
# override_settings: async_task() runs the task at once, in the test's process.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
Q_CLUSTER.pop("redis", None)
Q_CLUSTER["orm"] = "default"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PUBLIC_BASE_URL = "http://testserver"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
TWILIO_ACCOUNT_SID = ""

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so concurrent-request tests use WAL and the busy
    # timeout like production. pytest-xdist adds a suffix per worker.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
