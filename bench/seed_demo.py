"""Benchmark: `seed_demo` into a fresh PostgreSQL database, against a plain COPY baseline.

    .venv/bin/python bench/seed_demo.py --customers 1000000 [--db bench_brokercrm] [--drop]

Builds the database from scratch (drop, create, migrate), times `manage.py seed_demo`, counts
the rows it wrote, then times a plain COPY of the same number of rows into a 3-column table
without indexes through psycopg2 in the same database — the floor for bulk writing on this
machine — and prints both, rows per second and the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c  # noqa: E402

TABLES = [
    "customers_customer",
    "customers_household",
    "customers_contract",
    "customers_commissionbooking",
    "customers_marketingconsent",
    "customers_activity",
]
BASELINE_CHUNK_ROWS = 100_000


class _Repeat:
    """A file whose content is `rows` lines of a 3-column table, built from one chunk."""

    def __init__(self, rows: int):
        self.chunk = "".join(
            f"{i}\tZeile {i % 997}\t{i % 100_000 / 100:.2f}\n" for i in range(BASELINE_CHUNK_ROWS)
        )
        self.full, self.rest = divmod(rows, BASELINE_CHUNK_ROWS)
        self.tail = "".join(self.chunk.splitlines(keepends=True)[: self.rest])
        self.parts = iter([self.chunk] * self.full + [self.tail])

    def read(self, size: int = -1) -> str:
        return next(self.parts, "")


def baseline_copy(db: str, rows: int) -> float:
    conn = c.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_copy_baseline")
            cur.execute("CREATE TABLE bench_copy_baseline (id bigint, name text, amount numeric(14, 2))")
            data = _Repeat(rows)
            conn.autocommit = False
            started = time.perf_counter()
            cur.copy_expert("COPY bench_copy_baseline (id, name, amount) FROM STDIN", data)
            conn.commit()
            seconds = time.perf_counter() - started
            conn.autocommit = True
            cur.execute("DROP TABLE bench_copy_baseline")
        return seconds
    finally:
        conn.close()


def row_counts(db: str) -> dict[str, int]:
    conn = c.connect(db)
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in TABLES:
                cur.execute(f"SELECT count(*) FROM {table}")
                counts[table] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--db", default="bench_brokercrm", help="database to (re)build (default bench_brokercrm)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = parser.parse_args()

    print(f"seed_demo benchmark: {args.customers:,} customers into {args.db} (load {c.load_average()})")
    c.recreate_database(args.db)
    migrate_s, _ = c.timed(c.manage, args.db, "migrate", "--noinput", "-v", "0")
    command = ["seed_demo", "--customers", str(args.customers), "--seed", str(args.seed), "-v", "2"]
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    seed_s, done = c.timed(c.manage, args.db, *command, capture=True)
    print(done.stdout.strip())
    counts = row_counts(args.db)
    rows = sum(counts.values())
    baseline_s = baseline_copy(args.db, rows)

    print()
    print(f"{'':34}{'seconds':>10}{'rows/s':>14}")
    print(f"{'seed_demo (process, wall clock)':34}{seed_s:10.1f}{rows / seed_s:14,.0f}")
    print(f"{'baseline: plain COPY, 3 columns':34}{baseline_s:10.1f}{rows / baseline_s:14,.0f}")
    print(
        f"ratio seed_demo / baseline: {seed_s / baseline_s:.1f}x  for {rows:,} rows (migrate: {migrate_s:.1f} s)"
    )
    print("rows: " + ", ".join(f"{t.removeprefix('customers_')} {n:,}" for t, n in counts.items()))
    print(f"load average after: {c.load_average()}")

    c.RESULTS.mkdir(parents=True, exist_ok=True)
    out = c.RESULTS / f"seed_demo_{c.size_label(args.customers)}.json"
    out.write_text(
        json.dumps(
            {
                "customers": args.customers,
                "seconds": seed_s,
                "rows": counts,
                "rows_per_second": rows / seed_s,
                "baseline_seconds": baseline_s,
                "ratio": seed_s / baseline_s,
                "steps": c.parse_steps(done.stdout),
                "at": time.strftime("%Y-%m-%d %H:%M:%S"),
            },
            indent=2,
        )
    )
    if args.drop:
        conn = c.connect()
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE "{args.db}" WITH (FORCE)')
        conn.close()


if __name__ == "__main__":
    main()
