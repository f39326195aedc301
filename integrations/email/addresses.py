"""Which integrations, and which alert replies, an email was sent to.

An email integration's address is `<key>@INBOUND_EMAIL_DOMAIN`. The key is
the secret, so the domain is not checked: mail forwarded from another
domain, or sent to a provider's own inbound address with the key as a plus
tag (Postmark's `<hash>+<key>@inbound.postmarkapp.com`), reaches the
integration too. Plus-addressing (`<key>+nagios@...`) is tolerated, and the
key is matched without regard to case, since mail systems may change it;
an exact match wins when two keys differ only in case. The previous key
works during its grace after a rotation, as on webhooks.

`reply+<token>@INBOUND_EMAIL_DOMAIN` is the Reply-To of an alert email
(escalation's email transport): a responder's "ack" or "resolve". Here the
domain must match, since other services' reply addresses look the same.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Lower

from escalation.transports.email import REPLY_PREFIX
from integrations.models import Integration

# What a key can look like (alertops.lib.keys makes URL-safe base64); anything
# else is not looked up.
KEY_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Target:
    integration: Integration
    address: str
    previous_key: bool  # sent to the address of the key before the last rotation


@dataclass
class Addressed:
    integrations: list[Target] = field(default_factory=list)
    # (address, token) of each reply address.
    replies: list[tuple[str, str]] = field(default_factory=list)
    # Addresses that name no integration and no reply.
    unknown: list[str] = field(default_factory=list)


def local_part(address: str) -> str:
    local = address.rsplit("@", 1)[0].strip()
    if len(local) >= 2 and local[0] == local[-1] == '"':
        local = local[1:-1]
    return local


def candidates(address: str) -> list[str]:
    """The keys an address may carry: the local part, and each side of a plus."""
    local = local_part(address)
    found = [local]
    if "+" in local:
        base, tag = local.split("+", 1)
        found += [base, tag]
    return [c for c in found if KEY_SHAPE.match(c)]


def find(addresses: list[str], now: datetime) -> Addressed:
    result = Addressed()
    wanted: dict[str, list[str]] = {}
    domain = settings.INBOUND_EMAIL_DOMAIN.lower()
    for address in addresses:
        local = local_part(address)
        ours = address.rsplit("@", 1)[-1].strip().lower() == domain
        # Other services use reply+<token>@ too (GitHub, GitLab): only ours are replies.
        if ours and local.lower().startswith(REPLY_PREFIX):
            result.replies.append((address, local[len(REPLY_PREFIX) :]))
            continue
        wanted[address] = candidates(address)
    lowered = {c.lower() for keys in wanted.values() for c in keys}
    found = []
    if lowered:
        found = list(
            Integration.objects.select_related("group__escalation_policy")
            .annotate(lower_key=Lower("key"), lower_previous=Lower("previous_key"))
            .filter(
                Q(lower_key__in=lowered)
                | Q(lower_previous__in=lowered, previous_key_expires_at__gt=now)
            )
        )
    seen: set[int] = set()
    for address, keys in wanted.items():
        target = _match(keys, found, now)
        if target is None:
            result.unknown.append(address)
        elif target[0].pk not in seen:
            seen.add(target[0].pk)
            result.integrations.append(Target(target[0], address, target[1]))
    return result


def _match(
    keys: list[str], found: list[Integration], now: datetime
) -> tuple[Integration, bool] | None:
    """The integration one of `keys` opens, and whether by its previous key."""

    def current(i: Integration) -> list[str]:
        live = i.previous_key and i.previous_key_expires_at and i.previous_key_expires_at > now
        return [i.key] + ([i.previous_key] if live else [])

    for key in keys:
        exact = [i for i in found if key in current(i)]
        if not exact:
            exact = [i for i in found if key.lower() in (k.lower() for k in current(i))]
        if len(exact) == 1:
            return exact[0], exact[0].key.lower() != key.lower()
    return None
