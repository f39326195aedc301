"""Test settings: the real settings, with the q cluster run inline."""

import os

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
    # TEST_SQLITE_PATH lets two test runs on one checkout use separate files.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_SQLITE_PATH", str(VAR_DIR / "test.sqlite3"))
    }

# WhiteNoise wants the collected-static folder to exist; tests serve no files.
STATIC_ROOT = VAR_DIR / "test-static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
