"""Signed, expiring links that let a responder act on an alert without logging in."""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "escalation.responder-link"


@dataclass(frozen=True)
class ResponderGrant:
    alert_id: int
    user_id: int | None


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def make_token(alert_id: int, user_id: int | None) -> str:
    return signing.dumps({"a": alert_id, "u": user_id}, salt=SALT, compress=True)


def read_token(token: str, max_age: int | None = None) -> ResponderGrant:
    """The grant in a token; LinkExpired or LinkInvalid otherwise."""
    age = settings.RESPONDER_LINK_MAX_AGE if max_age is None else max_age
    try:
        data = signing.loads(token, salt=SALT, max_age=age)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise LinkInvalid from None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int):
        raise LinkInvalid
    return ResponderGrant(alert_id=data["a"], user_id=data.get("u"))


def responder_url(alert_id: int, user_id: int | None) -> str:
    path = reverse("responder", args=[make_token(alert_id, user_id)])
    return settings.PUBLIC_BASE_URL + path
