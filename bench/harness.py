"""What the benchmark modules share: their servers, waiting, statistics, results.

Every server is started in its own process group (session) and stopped by
that group: SIGTERM, then SIGKILL after a grace period. Stopping happens in
`finally` blocks, at exit and on SIGTERM/SIGINT; each group is also written
to BENCH_PIDS so that bench.run can kill what a crashed module left behind.
"""

import atexit
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The environment variable that marks every process a benchmark run starts.
RUN_ID_VARIABLE = "BENCH_RUN_ID"


class BenchError(Exception):
    """A benchmark could not be measured (a server died, a wait timed out)."""


def now() -> datetime:
    return datetime.now(UTC)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


# -- results ---------------------------------------------------------------------------------


@dataclass
class Report:
    """The rows and notes one benchmark module hands to bench.run."""

    benchmark: str
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, figure: str, measured: str, target: str = "-", ok: bool | None = None) -> None:
        verdict = "info" if ok is None else ("pass" if ok else "FAIL")
        self.rows.append(
            {
                "benchmark": self.benchmark,
                "figure": figure,
                "measured": measured,
                "target": target,
                "result": verdict,
            }
        )

    def note(self, text: str) -> None:
        self.notes.append(f"{self.benchmark}: {text}")

    def emit(self) -> None:
        text = json.dumps(asdict(self), indent=1)
        path = os.environ.get("BENCH_RESULT")
        if path:
            Path(path).write_text(text)
        else:
            print(text)


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty collection."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def secs(value: float) -> str:
    return f"{value:.3f} s"


def spread(values: list[float]) -> str:
    """p50 / p99 / max of durations in seconds."""
    return f"{percentile(values, 50):.3f} / {percentile(values, 99):.3f} / {max(values):.3f} s"


# -- Django ----------------------------------------------------------------------------------


def setup_django() -> None:
    """Configure Django in this process, on the database bench.run prepared."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alertops.settings")
    import django

    django.setup()


def ticker_is_live() -> bool:
    from django.db import close_old_connections

    from escalation import ticker

    close_old_connections()
    return ticker.lease_is_live(now())


# -- processes -------------------------------------------------------------------------------

_running: list["Server"] = []


class Server:
    """One server process (and its children) in a process group of its own."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        workdir = Path(os.environ.get("BENCH_WORKDIR", "/tmp"))
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def pgid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> "Server":
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _running.append(self)
        pids = os.environ.get("BENCH_PIDS")
        if pids:
            with open(pids, "a") as out:
                out.write(f"{self.pgid}\n")
        return self

    def group_alive(self) -> bool:
        if self.proc is not None:
            self.proc.poll()  # reap the leader, so a dead one is not counted
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def check(self) -> None:
        """Raise if the server's main process has died."""
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(
                f"{self.name} exited with status {self.proc.returncode}; "
                f"last lines of {self.log_path}:\n{self.tail()}"
            )

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)

    def kill_hard(self) -> None:
        """SIGKILL the whole process group and wait until all of it is gone."""
        self.signal_group(signal.SIGKILL)
        self._wait_gone(10.0)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the group, then SIGKILL whatever is left after `grace` seconds."""
        if self.proc is None:
            return
        if self.group_alive():
            self.signal_group(signal.SIGTERM)
            if not self._wait_gone(grace):
                self.signal_group(signal.SIGKILL)
                self._wait_gone(10.0)
        if self in _running:
            _running.remove(self)

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.group_alive():
                return True
            time.sleep(0.05)
        return not self.group_alive()


def stop_all() -> None:
    for server in list(reversed(_running)):
        try:
            server.stop()
        except Exception as error:  # keep stopping the others
            print(f"could not stop {server.name}: {error!r}", file=sys.stderr)


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Stop every server at exit, and turn SIGTERM into an exit that runs `finally`."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _exit_on_signal)


def qcluster(name: str = "qcluster") -> Server:
    return Server(name, [PYTHON, "manage.py", "qcluster"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(
    what: str,
    condition: Callable[[], bool],
    timeout: float,
    servers: Iterable[Server] = (),
    interval: float = 0.1,
) -> float:
    """Wait until `condition()` holds; return how long it took. Raise on timeout or a death."""
    started = time.monotonic()
    while True:
        for server in servers:
            server.check()
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def wait_until(moment: datetime) -> None:
    delay = (moment - now()).total_seconds()
    if delay > 0:
        time.sleep(delay)


# -- data ------------------------------------------------------------------------------------


def create_due_alerts(count: int, first_due: datetime, window: float) -> dict[int, datetime]:
    """Open `count` alerts of the demo group, due evenly over `window` seconds.

    Written with bulk_create, as raise_alert would leave them (snapshot of the
    group's policy, first step due), without their timeline. Returns each
    alert's intended due time by id.
    """
    from django.db import transaction

    from alertops.management.commands.demo import GROUP_NAME
    from escalation import policies
    from escalation.models import Alert, Severity
    from groups.models import Group
    from integrations.models import IntegrationKind

    group = Group.objects.select_related("escalation_policy").get(name=GROUP_NAME)
    integration = group.integrations.get(kind=IntegrationKind.WEBHOOK)
    plan = policies.snapshot(group.escalation_policy)
    created = now()
    alerts = []
    for i in range(count):
        due = first_due + seconds(window * i / count)
        alerts.append(
            Alert(
                group=group,
                integration=integration,
                summary=f"Benchmark alert {i}: checkout latency over 2 s",
                details={"benchmark": True, "n": i},
                severity=Severity.CRITICAL,
                source=f"bench-host-{i % 50}",
                dedup_key=f"bench-{i}",
                created_at=created,
                last_event_at=created,
                policy_snapshot=plan,
                next_action_at=due,
            )
        )
    with transaction.atomic():
        Alert.objects.bulk_create(alerts, batch_size=500)
    return {alert.pk: alert.next_action_at for alert in alerts}


def start_service() -> tuple[Server, int]:
    """scripts/run (gunicorn and the q cluster), as `make run` starts it, on a free
    port on 127.0.0.1; returns once gunicorn listens and the engine ticks."""
    port = free_port()
    server = Server(
        "run",
        ["scripts/run"],
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "VENV": str(Path(PYTHON).parent.parent),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        },
    ).start()
    wait_for("gunicorn to listen", lambda: port_open(port), 60, [server])
    wait_for("the engine ticker to start", ticker_is_live, 60, [server])
    return server, port
