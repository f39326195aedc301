"""Real clients for tests/test_real_clients.py: a Prometheus Alertmanager
process, and PagerDuty's and Opsgenie's Python libraries, all pointed at the
live test server."""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import opsgenie_sdk
from pagerduty import EventsApiV2Client

ALERTMANAGER_BINARY = shutil.which("prometheus-alertmanager") or (
    "/usr/bin/prometheus-alertmanager"
    if os.access("/usr/bin/prometheus-alertmanager", os.X_OK)
    else None
)
INSTALL_HINT = (
    "Prometheus Alertmanager (prometheus-alertmanager) is not installed; "
    "run scripts/install-test-tools to install it"
)
# Long enough for Alertmanager's group_wait plus a retry; a waiting loop, not
# a timing assertion: it returns as soon as the condition holds.
DEADLINE_SECONDS = 20.0
POLL_SECONDS = 0.2

# No proxy from the environment may stand between a client and 127.0.0.1.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for[T](condition: Callable[[], T], what: str, timeout: float = DEADLINE_SECONDS) -> T:
    """Call `condition` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Alertmanager:
    """One Alertmanager process on loopback, with its own config and storage.

    The config is written as JSON, which YAML (and so Alertmanager) reads.
    """

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        assert ALERTMANAGER_BINARY, INSTALL_HINT
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.log_path = workdir / "alertmanager.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(ALERTMANAGER_BINARY),
                    f"--config.file={self.config_path}",
                    f"--storage.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    f"--web.external-url={self.url}",
                    "--cluster.listen-address=",
                    "--log.level=debug",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for(self._ready, f"Alertmanager to listen on {self.url}")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"Alertmanager exited with status {self.process.returncode}:\n{self.log_tail()}"
            )
        try:
            with _http.open(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the process this object started, by its PID."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def wait_for[T](self, condition: Callable[[], T], what: str) -> T:
        """wait_for(), and on giving up show what Alertmanager said about its sends."""
        try:
            return wait_for(condition, what)
        except AssertionError as gave_up:
            raise AssertionError(f"{gave_up}; Alertmanager's log:\n{self.log_tail()}") from None

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """What Prometheus does: POST /api/v2/alerts."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with _http.open(request, timeout=5) as response:
            assert response.status == 200, response.read()

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds, with the fingerprints it computed."""
        with _http.open(f"{self.url}/api/v2/alerts?active=true&silenced=true", timeout=5) as r:
            return json.loads(r.read())


def prometheus_alert(
    alertname: str,
    kind: str,
    instance: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
) -> dict[str, Any]:
    """An alert as Prometheus posts it; an `ends_at` in the past resolves it."""
    alert: dict[str, Any] = {
        "labels": {
            "alertname": alertname,
            "kind": kind,
            "instance": instance,
            "severity": "critical",
        },
        "annotations": {"summary": f"{alertname} on {instance}"},
        "startsAt": iso(starts_at),
        "generatorURL": f"http://prometheus.test/graph?g0.expr={alertname}",
    }
    if ends_at is not None:
        alert["endsAt"] = iso(ends_at)
    return alert


def alertmanager_config(webhook_url: str, pagerduty: tuple[str, str], opsgenie: tuple[str, str]):
    """Three receivers, chosen by the alert's `kind` label; unmatched alerts go nowhere.

    `pagerduty` and `opsgenie` are (URL, integration key) pairs. Alertmanager
    0.25 appends `v2/alerts...` to the Opsgenie api_url, first adding a slash
    when the URL lacks one (so "http://host:port" and ".../" both work).
    """
    pagerduty_url, routing_key = pagerduty
    opsgenie_url, api_key = opsgenie

    def route(kind: str) -> dict[str, Any]:
        return {"receiver": kind, "matchers": [f'kind="{kind}"']}

    return {
        "route": {
            "receiver": "nowhere",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "1h",
            "routes": [route("webhook"), route("pagerduty"), route("opsgenie")],
        },
        "receivers": [
            {"name": "nowhere"},
            {"name": "webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]},
            {
                "name": "pagerduty",
                "pagerduty_configs": [
                    {"url": pagerduty_url, "routing_key": routing_key, "send_resolved": True}
                ],
            },
            {
                "name": "opsgenie",
                "opsgenie_configs": [
                    {
                        "api_url": opsgenie_url,
                        "api_key": api_key,
                        "priority": "P1",
                        "send_resolved": True,
                    }
                ],
            },
        ],
    }


class LocalEventsApiV2Client(EventsApiV2Client):
    """PagerDuty's Events API client; its `url` setter refuses http://, the live server's."""

    @property
    def url(self) -> str:
        return self._url

    @url.setter
    def url(self, base_url: str) -> None:
        self._url = base_url


def pagerduty_client(base_url: str, routing_key: str) -> LocalEventsApiV2Client:
    client = LocalEventsApiV2Client(routing_key, base_url=base_url, trust_env=False)
    # A refusal should fail the test at once, not after the library's backoff.
    client.retry = {}
    client.max_network_attempts = 1
    return client


def opsgenie_alert_api(base_url: str, api_key: str) -> opsgenie_sdk.AlertApi:
    configuration = opsgenie_sdk.Configuration()
    configuration.host = base_url
    configuration.api_key["Authorization"] = api_key
    configuration.api_key_prefix["Authorization"] = "GenieKey"
    configuration.retry_count = 1
    configuration.retry_delay = 1
    configuration.retry_max_delay = 2
    # The SDK's short polling (SuccessResponse.id) retries this many times.
    configuration.short_polling_max_retries = 2
    return opsgenie_sdk.AlertApi(api_client=opsgenie_sdk.ApiClient(configuration))


def close_opsgenie_alert_api(api: opsgenie_sdk.AlertApi) -> None:
    """Drop the SDK's kept-alive connections: each holds a live-server thread,
    and so a database session that would block dropping the test database."""
    pools = api.api_client.rest_client.pool_manager.pools
    # urllib3 2 closes a dropped pool only when it is garbage-collected.
    for key in list(pools.keys()):
        pools[key].close()
    pools.clear()
