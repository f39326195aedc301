"""Which URLs an outbound webhook may post to.

A webhook's URL is typed by an admin, and the service posts to it from
inside its own network: unchecked, it could reach the database, a cloud
metadata endpoint or an admin port on localhost. So only http(s) URLs are
taken, and a host that resolves to a private, loopback, link-local,
reserved, multicast or unspecified address (IPv4 or IPv6, IPv4-mapped IPv6
included) is refused unless settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE is on.

The URL is checked when the form is saved (a clear message) and again before
every attempt, because DNS answers change; integrations/outbound/http.py
then checks the address actually connected to, so a name that resolves to a
public address for the check and a private one for the connection (DNS
rebinding) is refused as well.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_SETTING = "OUTBOUND_WEBHOOKS_ALLOW_PRIVATE"


class TargetRefused(Exception):
    """The URL may not be posted to; trying again will not change that."""


class TargetUnresolved(Exception):
    """The host name has no address right now (a DNS failure may pass)."""


def private_allowed() -> bool:
    return bool(settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE)


def why_refused(address: IPAddress) -> str:
    """What kind of address this is when webhooks may not reach it, else ""."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return why_refused(address.ipv4_mapped)
    # Order matters: 127.0.0.1 is also "private" to ipaddress, and loopback says more.
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    if not address.is_global:
        return "non-public"  # e.g. 100.64.0.0/10, shared by carriers' NAT
    return ""


def check_address(address: str, host: str = "") -> None:
    """Raise TargetRefused when `address` (an IP in text) is off limits."""
    if private_allowed():
        return
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    kind = why_refused(ip)
    if kind:
        named = f"{host} resolves to {ip}" if host and host != str(ip) else str(ip)
        raise TargetRefused(
            f"{named}, a {kind} address: webhooks may not reach the service's own network "
            f"(set {ALLOW_SETTING}=true to allow it)."
        )


def split(url: str) -> tuple[str, int]:
    """The URL's host and port; TargetRefused when it is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise TargetRefused(f"Not a URL: {error}.") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise TargetRefused("The URL has no host name.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, IPv4 and IPv6."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]  # a literal address needs no lookup
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise TargetUnresolved(f"{host} could not be resolved ({error}).") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str) -> None:
    """Raise TargetRefused (or TargetUnresolved) unless webhooks may post to `url`.

    Every address the host resolves to must be allowed: a client may connect
    to any of them.
    """
    host, port = split(url)
    if private_allowed():
        return
    for address in resolve(host, port):
        check_address(address, host)
