"""Which URLs outbound webhooks may post to: http(s) only, and no private,
loopback, link-local, reserved, multicast or unspecified address unless the
setting allows it. Literal addresses and localhost need no DNS."""

import pytest

from integrations.outbound import targets


@pytest.mark.parametrize(
    "url, kind",
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://127.8.9.10/", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),  # IPv4-mapped IPv6
        ("http://[::ffff:10.0.0.7]/hook", "private"),
        ("https://10.0.0.7/hook", "private"),
        ("https://172.16.5.4/hook", "private"),
        ("https://192.168.1.20/hook", "private"),
        ("http://[fc00::1]/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://[fe80::1]/hook", "link-local"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://[::]/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://[ff02::1]/hook", "multicast"),
        ("http://240.0.0.1/hook", "private"),  # reserved, which ipaddress also calls private
        ("http://100.64.1.1/hook", "non-public"),
        ("http://localhost:9000/hook", "loopback"),
    ],
)
def test_private_and_special_addresses_are_refused(settings, url, kind):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(targets.TargetRefused) as refused:
        targets.check_url(url)
    message = str(refused.value)
    assert f", a {kind} address: webhooks may not reach the service's own network" in message
    assert "OUTBOUND_WEBHOOKS_ALLOW_PRIVATE=true" in message


def test_a_name_says_what_it_resolved_to(settings):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(targets.TargetRefused) as refused:
        targets.check_url("http://localhost:9000/hook")
    assert str(refused.value).startswith("localhost resolves to ")


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/hook",
        "https://[2606:4700:4700::1111]/hook",
        "http://[::ffff:8.8.8.8]/hook",
    ],
)
def test_public_addresses_are_allowed(settings, url):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    targets.check_url(url)  # no exception


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.0.0.7/", "http://[::1]:81/"])
def test_the_setting_allows_private_addresses(settings, url):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    targets.check_url(url)


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://93.184.215.14/", "Only http:// and https:// URLs can receive webhooks."),
        ("file:///etc/passwd", "Only http:// and https:// URLs can receive webhooks."),
        ("https:///path-only", "The URL has no host name."),
        ("http://93.184.215.14:99999/", "Not a URL: Port out of range 0-65535."),
    ],
)
def test_only_http_urls_with_a_host(settings, url, message):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True  # refused even so
    with pytest.raises(targets.TargetRefused) as refused:
        targets.check_url(url)
    assert str(refused.value) == message


def test_a_host_that_does_not_resolve(settings, monkeypatch):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False

    def no_answer(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(targets.socket, "getaddrinfo", no_answer)
    with pytest.raises(targets.TargetUnresolved) as unresolved:
        targets.check_url("https://tickets.example.invalid/hook")
    assert str(unresolved.value) == (
        "tickets.example.invalid could not be resolved (Name or service not known)."
    )


def test_every_address_of_a_name_must_be_public(settings, monkeypatch):
    """A name with one public and one private address is refused: either may be used."""
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    answers = [
        (None, None, None, "", ("93.184.215.14", 443)),
        (None, None, None, "", ("10.1.1.1", 443)),
    ]
    monkeypatch.setattr(targets.socket, "getaddrinfo", lambda *a, **k: answers)
    with pytest.raises(targets.TargetRefused) as refused:
        targets.check_url("https://mixed.example.com/hook")
    assert str(refused.value).startswith(
        "mixed.example.com resolves to 10.1.1.1, a private address"
    )
