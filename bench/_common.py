"""Shared helpers of the benchmark scripts: databases, manage.py, figures."""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PYTHON = sys.executable

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def db_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def connect(name: str = "postgres"):
    conn = psycopg2.connect(db_url(name))
    conn.autocommit = True
    return conn


def database_exists(name: str) -> bool:
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cur.fetchone() is not None


def recreate_database(name: str) -> None:
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


@contextlib.contextmanager
def build_lock(name: str):
    """An advisory lock per database name, so two benches do not build the same book at once."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"bench:{name}"])
        yield
    finally:
        conn.close()  # releases the lock


def settle(name: str) -> None:
    """What autovacuum leaves a freshly built book with after a while: statistics and
    visibility maps. Measured right after its bulk load, a book has no visibility map yet, so
    every index-only scan (the list's counts) visits the heap too and the list's times double."""
    seconds, _ = timed(_vacuum, name)
    print(f"  VACUUM (ANALYZE): {seconds:.1f} s", flush=True)


def _vacuum(name: str) -> None:
    conn = connect(name)
    try:
        with conn.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")
    finally:
        conn.close()


def customer_count(name: str) -> int | None:
    """Customers in database `name`, or None when it has no customers table."""
    if not database_exists(name):
        return None
    conn = connect(name)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('customers_customer') IS NOT NULL")
            if not cur.fetchone()[0]:
                return None
            cur.execute("SELECT count(*) FROM customers_customer")
            return cur.fetchone()[0]
    finally:
        conn.close()


def manage(db: str, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url(db)}
    return subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )


def has_command(db: str, command: str) -> bool:
    env = {**os.environ, "DATABASE_URL": db_url(db)}
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "help", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
    )
    return result.returncode == 0


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - started, value


def parse_steps(output: str) -> dict[str, float]:
    """The per-step seconds that `seed_demo -v 2` prints."""
    return {m[1].strip(): float(m[2]) for m in re.finditer(r"^  (.+?)\s+([\d.]+) s$", output, re.M)}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


@contextlib.contextmanager
def statement_profile(out=sys.stdout, top: int = 15):
    """Time every statement Django's connection runs inside the block, grouped by its shape
    (the SQL with numbers and id lists folded), and print the groups that took longest — where
    a run spends its time, without guessing."""
    from django.db import connection

    totals: dict[str, list[float]] = {}

    def shape(statement: str) -> str:
        folded = re.sub(r"\(\s*\d+(?:\s*,\s*\d+)*\s*\)", "(…)", statement)
        folded = re.sub(r"\b\d+\b", "N", folded)
        return " ".join(folded.split())

    def wrapper(execute, statement, params, many, context):
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            entry = totals.setdefault(shape(statement), [0.0, 0])
            entry[0] += time.perf_counter() - started
            entry[1] += 1

    with connection.execute_wrapper(wrapper):
        yield totals
    total = sum(seconds for seconds, _ in totals.values())
    print(
        f"  statements: {sum(n for _, n in totals.values()):,}, {total:.2f} s; the slowest shapes:", file=out
    )
    for statement, (seconds, count) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {seconds:8.2f} s {count:6,}x  {statement[:150]}", file=out)


def server_cpu() -> float | None:
    """CPU seconds the PostgreSQL server on this host has used: the postmaster's children
    (backends, parallel workers, background processes) alive now plus those that have exited
    (the postmaster's cutime/cstime). The jobs run their chunks on several connections, so one
    backend's CPU would miss most of it; background work (checkpoints, autovacuum) counts too.
    Far less sensitive than wall time to a shared machine; None when the server is not local
    (or not readable)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        data_directory = cursor.fetchone()[0]
    try:
        postmaster = int(Path(data_directory, "postmaster.pid").read_text().split()[0])
        clock = os.sysconf("SC_CLK_TCK")
        fields = _stat(postmaster)
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    child = _stat(int(entry.name))
                except OSError:
                    continue  # exited meanwhile: counted in the postmaster's cutime/cstime
                if int(child[1]) == postmaster:  # ppid
                    ticks += int(child[11]) + int(child[12])
    except (OSError, ValueError):
        return None
    return ticks / clock


def measured(fn):
    """(fn's result, wall seconds, database server CPU seconds or None)."""
    cpu0 = server_cpu()
    seconds, result = timed(fn)
    cpu1 = server_cpu()
    return result, seconds, (cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None)


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: field 0 is the state, 1 the ppid, 11/12 utime/stime."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
