"""One HTTP POST to a webhook's URL, bounded in time and in where it may go.

`requests` is used with redirects off (a redirect could point anywhere,
including the service's own network), without proxies or .netrc from the
environment, and with a connection class that checks the address it
actually connected to (targets.check_address), so a name re-resolved to a
private address between the check and the connection is still refused.
"""

import time
from dataclasses import dataclass

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from integrations.outbound import targets

# Enough of the answer to show what the receiver said; the rest is not read.
EXCERPT_BYTES = 1024


@dataclass
class Answer:
    status: int
    excerpt: str
    retry_after: str = ""
    location: str = ""


class _CheckedConnection(HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


def _check_peer(sock, host: str) -> None:
    try:
        targets.check_address(sock.getpeername()[0], host)
    except targets.TargetRefused:
        sock.close()
        raise


class _CheckedPool(HTTPConnectionPool):
    ConnectionCls = _CheckedConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedPool, "https": _CheckedHTTPSPool}


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no HTTP(S)_PROXY: the connected address is the target's
    adapter = _CheckedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` and return the answer's status and the start of its body.

    `timeout` bounds the connection and each wait for data. The body is read
    only up to EXCERPT_BYTES, and not at all when the headers alone took
    longer than `timeout`: the status is what counts. Raises
    targets.TargetRefused, or requests' Timeout / ConnectionError /
    RequestException.
    """
    started = time.monotonic()
    with _session() as session:
        response = session.post(
            url,
            data=body,
            headers=headers,
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        )
        try:
            excerpt = b""
            if time.monotonic() - started < timeout:
                try:
                    excerpt = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
                except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
                    excerpt = f"(the answer's body could not be read: {error})".encode()
            return Answer(
                status=response.status_code,
                excerpt=excerpt.decode("utf-8", errors="replace"),
                retry_after=response.headers.get("Retry-After", ""),
                location=response.headers.get("Location", ""),
            )
        finally:
            response.close()
