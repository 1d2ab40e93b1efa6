"""Benchmark: planning care tasks for N customers after a reclassification, set-based.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<your db> \
        .venv/bin/python bench/plan_care.py [--customers 100000] [--as-of 2026-04-15] [--reclassify]

Uses the book in the database; an empty database is first filled with `seed_demo --customers N`.
Customers without a class are classified first (segmentation's reclassification run); with
--reclassify such a run is timed in any case, as the baseline of the issue's target ("planning
adds at most 50 % to the reclassification"; that run is committed). All planning work happens in
one transaction that is rolled back at the end, so the book is left as it was; foreign keys are
checked inside the timings (SET CONSTRAINTS ALL IMMEDIATE). Between the runs the bench refreshes
the statistics of the task and customer tables, as autovacuum does between nights. Use your own
database: the reclassification writes to it.

Printed, each measured in this run:
  1. first planning run over the whole book (no open tasks before): tasks created per second;
  2. the same run again (idempotent: creates nothing);
  3. a nightly run after 5 % of the customers changed class (cancels + plans);
  4. the baseline: one plain INSERT ... SELECT of as many rows into the task table itself (same
     indexes and foreign keys; no date arithmetic, consent or duplicate checks) — and the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokercrm.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from customers.models import Customer  # noqa: E402
from servicelevels.models import CareTask  # noqa: E402
from servicelevels.services import care_tasks_plan  # noqa: E402

CHANGED_SHARE = 0.05


class Rollback(Exception):
    pass


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def reclassify(as_of: dt.date) -> float | None:
    try:
        from segmentation.services import reclassification_run
    except ImportError:
        return None
    _run, seconds = timed(lambda: reclassification_run(as_of=as_of))
    return seconds


def baseline_insert(rows: int, as_of: dt.date) -> float:
    """One plain INSERT ... SELECT of `rows` task rows into the (emptied) task table itself, with
    its indexes and foreign keys checked: customers × active activities of their class, one row
    per scope number, no date arithmetic, no consent, no duplicate handling."""
    task = CareTask._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {task}")
        cursor.execute("SELECT count(*) FROM servicelevels_careactivity WHERE active")
        per_customer = max(cursor.fetchone()[0], 1)
        start = time.perf_counter()
        cursor.execute(
            f"""INSERT INTO {task} (
                customer_id, activity_id, contract_id, line_of_business_id, scope_key, occurrence,
                due_date, assignee_id, channel, fallback_from, status, outcome, planned_on, closed_at,
                closed_by_id, logged_activity_id, created_at)
            SELECT c.id, a.id, NULL, NULL, g.n, %(as_of)s, %(as_of)s, c.advisor_id, a.channel, '', 'open', '',
                %(as_of)s, NULL, NULL, NULL, now()
            FROM customers_customer c
            JOIN servicelevels_servicelevel sl ON sl.segment = c.segment
            JOIN servicelevels_careactivity a ON a.service_level_id = sl.id AND a.active
            CROSS JOIN generate_series(1, %(repeat)s) AS g(n)
            LIMIT %(rows)s""",
            {
                "as_of": as_of,
                "rows": rows,
                "repeat": max(1, rows // max(Customer.objects.count(), 1) // per_customer + 2),
            },
        )
        seconds = time.perf_counter() - start
        assert cursor.rowcount == rows, (cursor.rowcount, rows)
    return seconds


def overnight_analyze() -> None:
    """Between nights autovacuum refreshes the statistics of the rewritten tables; in this one
    transaction the bench does it itself (not timed)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {CareTask._meta.db_table}")
            cursor.execute(f"ANALYZE {Customer._meta.db_table}")


def shift_classes(share: float, as_of: dt.date) -> int:
    """Move every 1/share-th classified customer to the next class, entering it today."""
    step = max(1, round(1 / share))
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE customers_customer SET segment = CASE segment
                   WHEN 'A' THEN 'C' WHEN 'B' THEN 'A' WHEN 'C' THEN 'O' ELSE 'B' END,
                   segment_since = %s
               WHERE segment <> '' AND status = 'active' AND id %% %s = 0""",
            [as_of, step],
        )
        return cursor.rowcount


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000, help="book size when the database is empty")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 4, 15))
    parser.add_argument("--reclassify", action="store_true", help="time a reclassification run as a baseline")
    args = parser.parse_args()

    if connection.vendor != "postgresql":
        raise SystemExit("bench/plan_care.py measures PostgreSQL: set DATABASE_URL=postgres://…")
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    if not Customer.objects.exists():
        print(f"empty database: seed_demo --customers {args.customers} …", flush=True)
        call_command("seed_demo", customers=args.customers, as_of=args.as_of, no_progress=True, verbosity=0)
    reclass_seconds = None
    if args.reclassify or not Customer.objects.exclude(segment="").exists():
        print("reclassification run …", flush=True)
        reclass_seconds = reclassify(args.as_of)
    customers = Customer.objects.count()
    classified = Customer.objects.active().exclude(segment="").count()
    print(f"book: {customers:,} customers, {classified:,} active with a class")

    # Earlier rolled-back runs leave dead rows behind; start from a clean table.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {CareTask._meta.db_table}")

    figures: dict[str, float | int] = {}
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Foreign keys are checked at each statement's end, inside the timings (they
                # are deferred to the commit otherwise, and this transaction never commits).
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"DELETE FROM {CareTask._meta.db_table}")
            first, figures["first_s"] = timed(lambda: care_tasks_plan(as_of=args.as_of))
            overnight_analyze()
            second, figures["again_s"] = timed(lambda: care_tasks_plan(as_of=args.as_of))
            moved = shift_classes(CHANGED_SHARE, args.as_of)
            overnight_analyze()
            nightly, figures["nightly_s"] = timed(lambda: care_tasks_plan(as_of=args.as_of))
            figures["baseline_s"] = baseline_insert(first.created, args.as_of)
            raise Rollback
    except Rollback:
        pass

    rate = first.created / figures["first_s"] if figures["first_s"] else 0
    print()
    print(
        f"1. first planning run:  {first.created:>10,} tasks in {figures['first_s']:7.2f} s  = {rate:,.0f} tasks/s"
    )
    print(f"   ({first.channel_changes:,} consent changes; {first.cancelled:,} cancelled)")
    print(f"2. same day again:      {second.created:>10,} tasks in {figures['again_s']:7.2f} s  (idempotent)")
    print(
        f"3. nightly, {moved:,} customers ({CHANGED_SHARE:.0%}) changed class: {nightly.created:,} planned, "
        f"{nightly.cancelled:,} cancelled in {figures['nightly_s']:.2f} s"
    )
    print(
        f"4. baseline: plain INSERT ... SELECT of {first.created:,} task rows (indexes, foreign keys): "
        f"{figures['baseline_s']:.2f} s"
    )
    print(f"   ratio first planning run / baseline = {figures['first_s'] / figures['baseline_s']:.2f}")
    if reclass_seconds is not None:
        print(f"   reclassification run of the same book: {reclass_seconds:.2f} s")
        print(
            f"   planning adds {figures['first_s'] / reclass_seconds:.0%} (first run) and "
            f"{figures['nightly_s'] / reclass_seconds:.0%} (nightly) to the reclassification (target ≤ 50 %)"
        )
    print("rolled back: the book is as it was")


if __name__ == "__main__":
    main()
