"""Benchmark: care planning after a reclassification, against the segmentation baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<your db> \\
        .venv/bin/python bench/plan_care.py [--as-of 2026-04-15] [--no-verify]

Target (issue #4): planning after a reclassification adds at most 50 % to the reclassification
baseline of the segmentation issue — `BASELINE_SQL` of bench/reclassify.py, the one hand-written
statement that classifies the whole book (imported from there, run here on the same database).

Uses the book in the database (e.g. a copy of bench_brokercrm_100k / _1m: CREATE DATABASE x
TEMPLATE bench_brokercrm_1m); an empty database is first filled with `seed_demo`, an unclassified
book is classified by the job first. The planning tables are emptied at the start, and the
database is left planned and reclassified: use your own copy. Steps, in one run:

  1. first planning of the unplanned book (a full pass, day D);
  2. the same day again (incremental: nothing changed, nothing created);
  3. the day passes: 1 % of the open tasks are completed, 0.2 % skipped;
  4. baseline: BASELINE_SQL for D + 1 (timed, rolled back; stopped after --baseline-timeout
     seconds, then reported as "more than", see `baseline`);
  5. the reclassification for D + 1 (the job, committed; --no-job skips it), then 5 % of the customers are moved
     to another class (entering it on D + 1), as a night with many class changes would;
  6. the statistics are refreshed, as autovacuum does after the job;
  7. nightly planning for D + 1 (incremental) — the figure of the target;
  8. check (unless --no-verify): a full pass for D + 1, rolled back, must find nothing to do —
     the incremental run left exactly what a full pass leaves.

Printed: seconds, tasks created per second, planning / baseline (target <= 0.5), the load.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import inspect
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
from django.db import OperationalError, connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench._common import measured, server_cpu, statement_profile  # noqa: E402
from bench.reclassify import BASELINE_SETTINGS, BASELINE_SQL  # noqa: E402
from customers import gdv  # noqa: E402
from customers.models import Customer  # noqa: E402
from servicelevels.models import CareTask, PlanningRun, PlanningState  # noqa: E402
from servicelevels.services import care_tasks_plan  # noqa: E402

CHANGED_SHARE = 0.05
DONE_SHARE = 0.01
SKIPPED_SHARE = 0.002
TARGET = 0.5


class Rollback(Exception):
    pass


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def cpu_text(cpu: float | None) -> str:
    return f"{cpu:.2f} s server CPU" if cpu is not None else "CPU n/a"


def execute(statement: str, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def baseline_params(day: dt.date) -> dict:
    """The parameters of BASELINE_SQL, as bench/reclassify.py sets them (absolute thresholds)."""
    from segmentation import services
    from segmentation.models import SegmentationPolicy, ThresholdMethod, threshold_bands

    policy = SegmentationPolicy.objects.get(is_active=True)
    if (
        policy.revenue_method != ThresholdMethod.ABSOLUTE
        or policy.potential_method != ThresholdMethod.ABSOLUTE
    ):
        raise SystemExit("the baseline statement expects absolute thresholds (the default policy)")
    rev = threshold_bands(policy.revenue_value, policy.hysteresis_percent)
    pot = threshold_bands(policy.potential_value, policy.hysteresis_percent)
    return {
        "as_of": day,
        "window_start": services.months_before(day, policy.revenue_window_months),
        "active": tuple(gdv.ACTIVE_CONTRACT_STATUSES),
        "rt": rev["base"],
        "rt_stay": rev["stay"],
        "rt_enter": rev["enter"],
        "pt": pot["base"],
        "pt_stay": pot["stay"],
        "pt_enter": pot["enter"],
    }


def baseline(day: dt.date, timeout: int) -> tuple[float, float | None, int | None]:
    """BASELINE_SQL for `day`, timed and rolled back (the book stays as the job leaves it).

    Run with the statement's own settings (BASELINE_SETTINGS). Should it still run longer than
    `timeout` seconds, it is stopped and reported as "more than": then the ratio planning /
    baseline printed is an upper bound. Returns (seconds, CPU, rows or None)."""
    params = baseline_params(day)
    rows = None
    try:
        with transaction.atomic():
            execute(f"SET LOCAL statement_timeout = '{int(timeout)}s'")
            for setting in BASELINE_SETTINGS:
                execute(setting)
            cpu0 = server_cpu()
            start = time.perf_counter()
            try:
                with transaction.atomic():
                    rows = execute(BASELINE_SQL, params)
            except OperationalError:  # QueryCanceled: the timeout
                rows = None
            seconds = time.perf_counter() - start
            cpu1 = server_cpu()
            raise Rollback
    except Rollback:
        pass
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return seconds, cpu, rows


def reclassify(day: dt.date) -> float:
    from segmentation.services import reclassification_run

    kwargs = {"as_of": day}
    if "followup" in inspect.signature(reclassification_run).parameters:
        kwargs["followup"] = False  # the planning that follows is timed here, on its own
    _run, seconds = timed(lambda: reclassification_run(**kwargs))
    return seconds


MAINTAINED = (
    "customers_customer",
    "customers_contract",
    "customers_commissionbooking",
    "customers_marketingconsent",
    "segmentation_potentialcomponent",
    "segmentation_classchange",
    CareTask._meta.db_table,
    PlanningState._meta.db_table,
)


def analyze() -> None:
    """Autovacuum's work between the steps (not timed): fresh statistics and visibility maps
    of the tables the job, the baseline and planning read — the tables bench/reclassify.py
    maintains before it times the baseline, and planning's own."""
    for table in MAINTAINED:
        execute(f"VACUUM ANALYZE {table}")


def reset_planning() -> None:
    execute(
        f"TRUNCATE {CareTask._meta.db_table}, {PlanningState._meta.db_table}, {PlanningRun._meta.db_table}"
    )
    analyze()


def close_some_tasks(day: dt.date) -> tuple[int, int]:
    """Staff work through the day: done and skipped tasks, spread over the book (ids mod n)."""
    now = timezone.now()
    done = execute(
        f"""UPDATE {CareTask._meta.db_table} SET status = 'done', outcome = 'erledigt', closed_at = %s
        WHERE status = 'open' AND id %% %s = 0""",
        [now, round(1 / DONE_SHARE)],
    )
    skipped = execute(
        f"""UPDATE {CareTask._meta.db_table} SET status = 'skipped', outcome = 'kein Bedarf', closed_at = %s
        WHERE status = 'open' AND id %% %s = 1""",
        [now, round(1 / SKIPPED_SHARE)],
    )
    return done, skipped


def shift_classes(share: float, day: dt.date) -> int:
    """Move every 1/share-th classified customer to the next class, entering it on `day`."""
    return execute(
        """UPDATE customers_customer SET segment = CASE segment
               WHEN 'A' THEN 'C' WHEN 'B' THEN 'A' WHEN 'C' THEN 'O' ELSE 'B' END,
               segment_since = %s
           WHERE segment <> '' AND status = 'active' AND id %% %s = %s""",
        # Another 5 % each night (a re-run on the same book moves other customers).
        [day, max(1, round(1 / share)), day.toordinal() % max(1, round(1 / share))],
    )


def verify(day: dt.date):
    """A full pass after the incremental one, rolled back: it must find nothing to do."""
    try:
        with transaction.atomic():
            result, seconds = timed(lambda: care_tasks_plan(as_of=day, full=True))
            raise Rollback
    except Rollback:
        pass
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000, help="book size when the database is empty")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 4, 15))
    parser.add_argument("--no-verify", action="store_true", help="skip the full pass that checks the result")
    parser.add_argument(
        "--no-job", action="store_true", help="skip the reclassification job of the next night"
    )
    parser.add_argument(
        "--nightly-only",
        action="store_true",
        help="keep the planned book: steps 3-8 for the night after the last planning run",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print where the nightly planning spends its time, per statement",
    )
    parser.add_argument(
        "--baseline-timeout", type=int, default=600, help="seconds before the baseline is stopped"
    )
    args = parser.parse_args()
    day, night = args.as_of, args.as_of + dt.timedelta(days=1)

    if connection.vendor != "postgresql":
        raise SystemExit("bench/plan_care.py measures PostgreSQL: set DATABASE_URL=postgres://…")
    print(f"database: {connection.settings_dict['NAME']}; {load()}", flush=True)
    call_command("migrate", verbosity=0)
    if not Customer.objects.exists():
        print(f"empty database: seed_demo --customers {args.customers} …", flush=True)
        call_command("seed_demo", customers=args.customers, as_of=day, no_progress=True, verbosity=0)
    if not Customer.objects.exclude(segment="").exists():
        print(f"classifying the book for {day} (the job) …", flush=True)
        print(f"  {reclassify(day):.1f} s", flush=True)
    customers = Customer.objects.count()
    classified = Customer.objects.active().exclude(segment="").count()
    print(f"book: {customers:,} customers, {classified:,} active with a class", flush=True)

    # As bench/reclassify.py: JIT compiling the big statements costs seconds and gains nothing.
    execute("SET jit = off")
    first = again = None
    if args.nightly_only:
        day = PlanningRun.objects.filter(finished_at__isnull=False).latest().as_of
        night = day + dt.timedelta(days=1)
        print(f"1.-2. skipped: the book is planned for {day}", flush=True)
    else:
        reset_planning()
        first, first_s, first_cpu = measured(lambda: care_tasks_plan(as_of=day))
        print(f"1. first planning {day}: {first.created:,} tasks in {first_s:.2f} s", flush=True)
        analyze()
        again, again_s = timed(lambda: care_tasks_plan(as_of=day))
        print(
            f"2. same day again: {again.created:,} created, {again.customers:,} customers in {again_s:.2f} s",
            flush=True,
        )
    done, skipped = close_some_tasks(day)
    analyze()
    print(f"3. the day: {done:,} tasks done, {skipped:,} skipped", flush=True)
    baseline_s, baseline_cpu, baseline_rows = baseline(night, args.baseline_timeout)
    bound = "" if baseline_rows is not None else "> "
    print(
        f"4. baseline BASELINE_SQL {night}: {bound}{baseline_s:.2f} s, {cpu_text(baseline_cpu)} "
        + (f"({baseline_rows:,} customer rows)" if baseline_rows is not None else "(stopped: timeout)"),
        flush=True,
    )
    job_s = None if args.no_job else reclassify(night)
    moved = shift_classes(CHANGED_SHARE, night)
    job_text = f"{job_s:.2f} s" if job_s is not None else "skipped"
    print(f"5. reclassification job {night}: {job_text}; then {moved:,} customers moved class", flush=True)
    analyze()
    print(f"6. statistics refreshed; {load()}", flush=True)
    with statement_profile() if args.profile else contextlib.nullcontext():
        nightly, nightly_s, nightly_cpu = measured(lambda: care_tasks_plan(as_of=night))
    print(
        f"7. nightly planning {night}: {nightly.created:,} created, {nightly.cancelled:,} cancelled, "
        f"{nightly.channel_changes:,} channel changes, {nightly.customers:,} customers planned in {nightly_s:.2f} s",
        flush=True,
    )
    check = None
    if not args.no_verify:
        check, check_s = verify(night)
        ok = check.created == check.cancelled == check.channel_changes == 0
        print(
            f"8. full pass after it (rolled back) in {check_s:.2f} s: {check.created} created, "
            f"{check.cancelled} cancelled, {check.channel_changes} channel changes — "
            f"{'the same result' if ok else 'DIFFERENT: the incremental run missed work'}",
            flush=True,
        )

    def rate(result, seconds):
        return result.created / seconds if seconds else 0

    print()
    print(f"book {customers:,} customers; {load()}")
    print(
        f"baseline (segmentation BASELINE_SQL, next night): {bound}{baseline_s:.2f} s  {cpu_text(baseline_cpu)}"
    )
    if job_s is not None:
        print(f"reclassification job, next night: {job_s:.2f} s (planning/job = {nightly_s / job_s:.2f})")
    ratio = "< " if bound else ""
    if first is not None:
        print(
            f"first planning (full):   {first_s:8.2f} s  {first.created:>10,} tasks  {rate(first, first_s):>9,.0f} tasks/s"
            f"  planning/baseline = {ratio}{first_s / baseline_s:.2f}  {cpu_text(first_cpu)}"
        )
    print(
        f"nightly (incremental):   {nightly_s:8.2f} s  {nightly.created:>10,} tasks  {rate(nightly, nightly_s):>9,.0f} tasks/s"
        f"  planning/baseline = {ratio}{nightly_s / baseline_s:.2f}  (target <= {TARGET})"
        f"  {'MET' if nightly_s / baseline_s <= TARGET else 'NOT MET'}  {cpu_text(nightly_cpu)}"
    )
    if baseline_cpu and nightly_cpu is not None:
        print(f"   by server CPU: nightly/baseline = {ratio}{nightly_cpu / baseline_cpu:.2f}")
    if first is not None:
        if baseline_cpu and first_cpu is not None:
            print(f"   by server CPU: first/baseline = {ratio}{first_cpu / baseline_cpu:.2f}")
        print(f"same day again:          {again_s:8.2f} s  {again.created:>10,} tasks")
    if check is not None:
        print(f"full pass, nightly day:  {check_s:8.2f} s  (nothing left to do: {ok})")


if __name__ == "__main__":
    main()
