"""Load generators for bench/throughput.py: wrk (closed loop, as fast as the
server answers) and an asyncio HTTP/1.1 client (open loop at a fixed rate,
and a fixed number of concurrent senders for the storm).

The open loop sends each request at its scheduled time, however many are
outstanding (up to MAX_OPEN connections), and times it from that scheduled
time, so a stalled server is not hidden by a waiting client. wrk cannot hold
a rate (wrk2 could; it is not packaged).
"""

import asyncio
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import BenchError, now, percentile

SECONDS = float(os.environ.get("BENCH_THROUGHPUT_SECONDS", 10))
CONNECTIONS = int(os.environ.get("BENCH_THROUGHPUT_CONNECTIONS", 16))
WRK_THREADS = 1
MAX_OPEN = 256
GRACE = 10.0
REQUEST_TIMEOUT = 30.0
IDLE_REUSE = 1.0  # gunicorn closes a keep-alive connection idle for 2 s
KEY_MARK = "@@KEY@@"

# wrk runs this in each of its threads: init() gets the arguments after "--".
WRK_SCRIPT = """\
-- Written by bench/throughput.py: a new dedup key in every request's body.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  method, expect, head, tail, prefix = args[1], tonumber(args[2]), args[3], args[4], args[5]
  counter, unexpected = 0, 0
end

function request()
  if head == "" then
    return wrk.format(method)
  end
  counter = counter + 1
  local body = head .. prefix .. "-" .. id .. "-" .. counter .. tail
  return wrk.format(method, nil, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= expect then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do
    wrong = wrong + thread:get("unexpected")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "unexpected": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, wrong, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Target:
    name: str
    method: str
    path: str
    expect: int
    body: Callable[[str], bytes] | None = None  # dedup key -> request body
    integration_id: int | None = None
    unavailable: str = ""  # why it cannot be measured

    def raw(self, port: int, key: str) -> bytes:
        body = self.body(key) if self.body else b""
        return request_bytes(self.method, self.path, port, body)


@dataclass
class Closed:
    """One wrk run."""

    requests: int
    seconds: float
    unexpected: int
    socket_errors: int
    p50: float
    p99: float
    alerts: int | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class Answer:
    due: float
    started: float  # when the generator got to it: its own lag is started - due
    finished: float
    status: int | None
    error: str = ""


@dataclass
class Opened:
    """One open-loop run."""

    offered: float
    scheduled: int
    answers: list[Answer] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def unanswered(self) -> int:
        return self.scheduled - len(self.answers)

    def latency(self, p: float) -> float:
        """Percentile over every scheduled request; the unanswered count as infinite."""
        waits = [a.finished - a.due for a in self.answers]
        waits += [float("inf")] * self.unanswered
        return percentile(waits, p)

    def wrong(self, expect: int) -> list[Answer]:
        return [a for a in self.answers if a.status != expect]

    @property
    def served(self) -> float:
        return len(self.answers) / self.elapsed if self.elapsed else 0.0

    @property
    def lag(self) -> float:
        return percentile([a.started - a.due for a in self.answers] or [0.0], 99)


def say(text: str) -> None:
    """Progress, to the benchmark's log."""
    print(f"{now():%H:%M:%S} {text}", flush=True)


# -- HTTP, from asyncio ----------------------------------------------------------------------


def request_bytes(method: str, path: str, port: int, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reusable = True
        self.used_at = time.monotonic()

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def exchange(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.read()
            self.reusable = False
        if headers.get("connection") == "close":
            self.reusable = False
        self.used_at = time.monotonic()
        return status, body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await self.reader.readexactly(size + 2))
            if size == 0:
                return b"".join(parts)

    def close(self) -> None:
        self.reusable = False
        self.writer.close()


FAILURES = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError)


class Pool:
    """Up to MAX_OPEN connections; an idle one is reused while gunicorn keeps it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(MAX_OPEN)
        self.opened = 0

    async def take(self) -> Connection:
        while self.idle:
            connection = self.idle.pop()
            if time.monotonic() - connection.used_at < IDLE_REUSE:
                return connection
            connection.close()
        self.opened += 1
        return await Connection.open(self.port)

    def give(self, connection: Connection) -> None:
        if connection.reusable:
            self.idle.append(connection)
        else:
            connection.close()

    async def send(self, raw: bytes, due: float, run: Opened) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with self.slots:
            connection = None
            try:
                connection = await self.take()
                status, _ = await asyncio.wait_for(connection.exchange(raw), REQUEST_TIMEOUT)
            except (*FAILURES, ValueError, IndexError) as error:
                if connection is not None:
                    connection.close()
                run.answers.append(Answer(due, started, loop.time(), None, repr(error)))
                return
            run.answers.append(Answer(due, started, loop.time(), status))
            self.give(connection)

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


async def open_loop(port: int, raws: list[bytes], rate: float) -> Opened:
    """Send raws[i] at start + i / rate, whatever is outstanding; wait GRACE s for the last."""
    loop = asyncio.get_running_loop()
    pool = Pool(port)
    run = Opened(rate, len(raws))
    start = loop.time() + 0.1
    tasks = []
    for i, raw in enumerate(raws):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(pool.send(raw, due, run)))
    deadline = start + len(raws) / rate + GRACE
    _, pending = await asyncio.wait(tasks, timeout=max(deadline - loop.time(), 0.0))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    pool.close()
    finished = [a.finished for a in run.answers]
    run.elapsed = (max(finished) - start) if finished else 0.0
    return run


async def storm_send(
    port: int, raws: list[bytes], senders: int
) -> tuple[Counter, list[str], float]:
    """`senders` senders, each on its own connection, one request after another."""
    statuses: Counter = Counter()
    errors: list[str] = []
    queue = iter(raws)

    async def sender() -> None:
        connection = None
        for raw in queue:  # shared: each request is sent once, by whichever sender is free
            try:
                if connection is None:
                    connection = await Connection.open(port)
                status, body = await asyncio.wait_for(connection.exchange(raw), REQUEST_TIMEOUT)
            except (*FAILURES, ValueError, IndexError) as error:
                statuses["no answer"] += 1
                errors.append(repr(error))
                if connection is not None:
                    connection.close()
                connection = None
                continue
            statuses[status] += 1
            if status != 202:
                errors.append(f"{status} {body[:200].decode(errors='replace')}")
            if not connection.reusable:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()

    started = time.monotonic()
    await asyncio.gather(*(sender() for _ in range(senders)))
    return statuses, errors, time.monotonic() - started


# -- wrk -------------------------------------------------------------------------------------


def run_wrk(
    wrk: Path, script: Path, target: Target, port: int, prefix: str, duration: float = SECONDS
) -> Closed:
    head = tail = ""
    if target.body:
        head, tail = target.body(KEY_MARK).decode().split(KEY_MARK)
    argv = [
        wrk,
        f"--threads={WRK_THREADS}",
        f"--connections={CONNECTIONS}",
        f"--duration={duration:g}s",
        f"--timeout={REQUEST_TIMEOUT:g}s",
        f"--script={script}",
        f"http://127.0.0.1:{port}{target.path}",
        "--",
        target.method,
        str(target.expect),
        head,
        tail,
        prefix,
    ]
    say(f"wrk {target.name} for {duration:g} s")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr[-500:] or done.stdout}")
    got = json.loads(lines[-1].removeprefix("RESULT "))
    return Closed(
        requests=got["requests"],
        seconds=got["duration_us"] / 1e6,
        unexpected=got["unexpected"],
        socket_errors=got["socket_errors"],
        p50=got["p50_us"] / 1e6,
        p99=got["p99_us"] / 1e6,
    )
