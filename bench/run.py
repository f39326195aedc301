"""Run the benchmarks and print one table: `make bench`, or `python -m bench [name ...]`.

Each benchmark gets a fresh database: a new SQLite file in a temporary
directory, or, when DATABASE_URL is set, a PostgreSQL database created for
it and dropped after it (named after DATABASE_URL's, with "_bench" added
unless the name already says "bench", so a real database is never touched).
The database is migrated and loaded with the demo data, then the benchmark
module runs in its own process with a time limit. Anything that module
started and left behind is killed by PID (processes carrying this run's
BENCH_RUN_ID); the temporary directory is removed unless something failed.
"""

import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.harness import PYTHON, ROOT, RUN_ID_VARIABLE

# name: (module, time limit in seconds, about how long it takes)
BENCHMARKS = {
    "lateness": ("bench.lateness", 330, "3 min"),
    "costs": ("bench.costs", 120, "15 s"),
    "ingest": ("bench.ingest", 150, "1 min"),
    "fault": ("bench.fault", 240, "1.5 min"),
    "schedule": ("bench.schedule", 120, "40 s"),
    "throughput": ("bench.throughput", 900, "7 min"),
}
# Never reach the network: no real email provider, Twilio or Redis.
DROPPED_VARIABLES = (
    "DATABASE_URL",
    "SQLITE_PATH",
    "REDIS_URL",
    "EMAIL_PROVIDER",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
)
COLUMNS = ("benchmark", "figure", "measured", "target", "result")


class SQLiteDatabases:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.kind = "SQLite"
        self.label = (
            f"SQLite {sqlite3.sqlite_version} (WAL), a fresh file per benchmark in {directory}"
        )

    def create(self, name: str) -> dict[str, str]:
        return {"SQLITE_PATH": str(self.directory / f"{name}.sqlite3")}

    def drop(self, name: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            (self.directory / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)


class PostgresDatabases:
    def __init__(self, url: str) -> None:
        import psycopg

        self.kind = "PostgreSQL"
        parts = urlsplit(url)
        name = parts.path.lstrip("/") or "alertops"
        self.name = name if "bench" in name else f"{name}_bench"
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            version = connection.info.server_version
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self.label = (
            f"PostgreSQL {version // 10000}.{version % 10000} at {where}, database "
            f"{self.name} created and dropped per benchmark"
        )

    def _execute(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def create(self, name: str) -> dict[str, str]:
        self.drop(name)
        self._execute("CREATE DATABASE {}")
        return {"DATABASE_URL": self.url}

    def drop(self, name: str) -> None:
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def kill_leftovers(pids_file: Path, run_id: str) -> int:
    """SIGKILL, by PID, every process of a recorded group that carries this run's id."""
    if not pids_file.exists():
        return 0
    groups = {int(line) for line in pids_file.read_text().split() if line.strip()}
    marker = f"{RUN_ID_VARIABLE}={run_id}".encode()
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pgid = int(stat.rsplit(")", 1)[1].split()[2])
            if pgid not in groups or marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            os.kill(int(entry.name), signal.SIGKILL)
            killed += 1
        except (OSError, ValueError, IndexError):
            continue
    return killed


def stop(child: subprocess.Popen) -> None:
    """SIGTERM (the module then stops its servers), SIGKILL after 30 s."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def run_one(name: str, env: dict[str, str], workdir: Path) -> dict:
    """Prepare the database, run one benchmark module, return its report."""
    module, limit, _ = BENCHMARKS[name]
    log = workdir / "bench.log"
    for command in (["migrate", "--noinput"], ["demo"]):
        done = subprocess.run(
            [PYTHON, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {command[0]} failed:\n{done.stderr[-2000:]}")
    result = workdir / "result.json"
    with log.open("w") as out:
        child = subprocess.Popen(
            [PYTHON, "-m", module],
            cwd=ROOT,
            env={**env, "BENCH_RESULT": str(result)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            child.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            say(f"  {name} ran over its {limit} s limit; stopping it")
        finally:
            stop(child)
    if child.returncode or not result.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"exited with status {child.returncode}:\n{tail}")
    return json.loads(result.read_text())


def table(rows: list[dict]) -> str:
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in COLUMNS]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [str(row[c]).ljust(w) for c, w in zip(COLUMNS, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        say(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    # SIGTERM runs the `finally` blocks too: children stopped, databases dropped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = time.monotonic()
    load = os.getloadavg()[0]
    run_id = secrets.token_hex(8)
    tmp = Path(tempfile.mkdtemp(prefix="alertops-bench-"))
    pids = tmp / "pids"
    url = os.environ.get("DATABASE_URL")
    databases = PostgresDatabases(url) if url else SQLiteDatabases(tmp)
    base = {k: v for k, v in os.environ.items() if k not in DROPPED_VARIABLES}
    base = {k: v for k, v in base.items() if not k.startswith("ANYMAIL_")}
    base.update(
        {
            RUN_ID_VARIABLE: run_id,
            "BENCH_PIDS": str(pids),
            "VAR_DIR": str(tmp / "var"),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "LOG_LEVEL": "INFO",
            "DJANGO_SETTINGS_MODULE": "alertops.settings",
        }
    )
    rows: list[dict] = []
    notes: list[str] = []
    failed = False
    try:
        for name in names:
            say(f"running {name} on {databases.kind} (about {BENCHMARKS[name][2]})")
            workdir = tmp / name
            workdir.mkdir()
            try:
                env = {**base, **databases.create(name), "BENCH_WORKDIR": str(workdir)}
                report = run_one(name, env, workdir)
                rows.extend(report["rows"])
                notes.extend(report["notes"])
            except Exception as error:
                failed = True
                rows.append(dict.fromkeys(COLUMNS, "") | {"benchmark": name, "result": "ERROR"})
                notes.append(f"{name}: could not be measured: {error}")
            finally:
                kill_leftovers(pids, run_id)
                try:
                    databases.drop(name)
                except Exception as error:
                    notes.append(f"{name}: could not drop its database: {error}")
    finally:
        kill_leftovers(pids, run_id)
        if failed or os.environ.get("BENCH_KEEP"):
            notes.append(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"Database: {databases.label}")
    print(
        f"Task broker: django-q2 ORM on that database; {os.cpu_count()} CPUs, "
        f"load average {load:.2f} at start; {time.monotonic() - started:.0f} s in all"
    )
    print()
    print(table(rows))
    if notes:
        print()
        print("\n".join(f"- {note}" for note in notes))
    missed = failed or any(r["result"] in ("FAIL", "ERROR") for r in rows)
    return 1 if missed else 0
