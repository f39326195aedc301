"""The one place the current time comes from.

Engine and schedule functions take `now` as a parameter; only their outermost
callers (the ticker, a view) ask this module for it, so tests drive time by
passing it in.
"""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
