"""Benchmark: the reclassification job against one hand-written SQL statement, in the same run.

    .venv/bin/python bench/reclassify.py --customers 100000,1000000 [--chunk-size 10000]
    .venv/bin/python bench/reclassify.py --db h_seg            # any prepared database

For each size it uses the PostgreSQL database bench_brokercrm_<size> (reused when it holds that
many customers, else built with migrate and seed_demo), then, in a child process:

1. first classification (every customer unclassified, no components, no history):
   - baseline: ONE SQL statement computing revenue, gap potential (rules, Fremdverträge,
     adjustments) and class with hysteresis, writing the changed customer rows;
   - the job: ``segmentation.services.reclassification_run`` in-process (set-based chunks,
     components, history, run record), from the same starting state, on each number of
     database connections of ``--connections`` (default 1 and 2: settings.JOB_CONNECTIONS);
   - with ``--workers N`` (default 2) the job dispatched to a Celery worker with N processes
     (the production shape);
   both results are compared customer by customer (class, revenue, potential);
2. the next night (as-of + 1 day) from the state the job left, baseline and job again.

It prints the times, each ratio job / baseline, the database server's CPU (every connection and
worker) and, for several sizes, how time grows.
Target: the job, history included, <= 1.2x the baseline. The database is left classified.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c  # noqa: E402

BASELINE_SQL = """
WITH rules AS (
    SELECT r.id, r.line_of_business_id AS line_id, r.expected_commission AS value, r.customer_kind,
           (%(as_of)s::date - make_interval(years => r.min_age))::date AS born_on_or_before,
           (%(as_of)s::date - make_interval(years => r.max_age + 1))::date AS born_after,
           r.homeowner, r.car_owner, r.has_children, r.occupations, r.marital_statuses,
           r.scope = 'household' AS household, r.per_car
    FROM segmentation_recommendationrule r
    WHERE r.is_active AND r.expected_commission > 0
),
revenue AS (
    SELECT k.customer_id, SUM(b.amount) AS revenue
    FROM customers_contract k JOIN customers_commissionbooking b ON b.contract_id = k.id
    WHERE b.booked_on > %(window_start)s AND b.booked_on <= %(as_of)s
    GROUP BY k.customer_id
),
held AS (
    SELECT x.customer_id, x.line_id, SUM(x.n) AS n
    FROM (
        SELECT k.customer_id, k.line_of_business_id AS line_id, COUNT(*) AS n FROM customers_contract k
        WHERE k.status IN %(active)s GROUP BY k.customer_id, k.line_of_business_id
        UNION ALL
        SELECT t.customer_id, t.line_of_business_id, COUNT(*) FROM segmentation_thirdpartycontract t
        GROUP BY t.customer_id, t.line_of_business_id
    ) x
    GROUP BY x.customer_id, x.line_id
),
household_held AS (
    SELECT DISTINCT m.household_id, h.line_id
    FROM held h JOIN customers_customer m ON m.id = h.customer_id
    WHERE m.household_id IS NOT NULL
),
eligible AS (
    SELECT c.id AS customer_id, c.household_id, c.cars, r.id AS rule_id, r.line_id, r.value, r.per_car,
           r.household,
           MIN(c.id) OVER (PARTITION BY c.household_id, r.id) AS first_member
    FROM customers_customer c
    JOIN rules r ON (r.customer_kind = '' OR r.customer_kind = c.kind)
      AND (r.born_on_or_before IS NULL OR c.birth_date <= r.born_on_or_before)
      AND (r.born_after IS NULL OR c.birth_date > r.born_after)
      AND (r.homeowner IS NULL OR c.homeowner = r.homeowner)
      AND (r.car_owner IS NULL OR (c.cars > 0) = r.car_owner)
      AND (r.has_children IS NULL OR (c.children > 0) = r.has_children)
      AND (jsonb_array_length(r.occupations) = 0 OR r.occupations ? c.occupation)
      AND (jsonb_array_length(r.marital_statuses) = 0 OR r.marital_statuses ? c.marital_status)
),
gaps AS (
    SELECT e.customer_id,
           SUM(CASE WHEN e.per_car THEN e.value * (e.cars - COALESCE(h.n, 0)) ELSE e.value END) AS potential
    FROM eligible e
    LEFT JOIN held h ON h.customer_id = e.customer_id AND h.line_id = e.line_id
    LEFT JOIN household_held hh ON e.household AND hh.household_id = e.household_id AND hh.line_id = e.line_id
    WHERE (CASE WHEN e.per_car THEN e.cars - COALESCE(h.n, 0) > 0 ELSE h.n IS NULL END)
      AND (NOT e.household OR e.household_id IS NULL
           OR (hh.household_id IS NULL AND e.first_member = e.customer_id))
    GROUP BY e.customer_id
),
third AS (
    SELECT customer_id, SUM(expected_commission) AS potential
    FROM segmentation_thirdpartycontract GROUP BY customer_id
),
adjustments AS (
    SELECT customer_id, SUM(amount) AS potential FROM segmentation_potentialadjustment
    WHERE valid_from <= %(as_of)s AND expires_on >= %(as_of)s GROUP BY customer_id
),
figures AS (
    SELECT c.id, c.segment AS old, c.status, COALESCE(rv.revenue, 0) AS revenue,
           COALESCE(g.potential, 0) + COALESCE(t.potential, 0) + COALESCE(a.potential, 0) AS potential
    FROM customers_customer c
    LEFT JOIN revenue rv ON rv.customer_id = c.id
    LEFT JOIN gaps g ON g.customer_id = c.id
    LEFT JOIN third t ON t.customer_id = c.id
    LEFT JOIN adjustments a ON a.customer_id = c.id
),
classes AS (
    SELECT f.id, f.revenue, f.potential,
        CASE WHEN f.status = 'former' THEN '' ELSE
            CASE WHEN f.revenue > 0 AND f.revenue >= CASE f.old WHEN '' THEN %(rt)s WHEN 'A' THEN %(rt_stay)s
                                                       WHEN 'B' THEN %(rt_stay)s ELSE %(rt_enter)s END
                 THEN CASE WHEN f.potential > 0 AND f.potential >= CASE f.old WHEN '' THEN %(pt)s
                            WHEN 'A' THEN %(pt_stay)s WHEN 'O' THEN %(pt_stay)s ELSE %(pt_enter)s END
                           THEN 'A' ELSE 'B' END
                 ELSE CASE WHEN f.potential > 0 AND f.potential >= CASE f.old WHEN '' THEN %(pt)s
                            WHEN 'A' THEN %(pt_stay)s WHEN 'O' THEN %(pt_stay)s ELSE %(pt_enter)s END
                           THEN 'O' ELSE 'C' END
            END
        END AS segment
    FROM figures f
)
UPDATE customers_customer c
SET revenue = x.revenue, potential = x.potential, segment = x.segment,
    segment_since = CASE WHEN x.segment <> c.segment THEN %(as_of)s ELSE c.segment_since END
FROM classes x
WHERE c.id = x.id AND (c.revenue <> x.revenue OR c.potential <> x.potential OR c.segment <> x.segment)
"""

# Run before BASELINE_SQL, in its transaction: tuned by hand like the job's chunks. No JIT, and
# hash joins throughout: the planner estimates the rules x customers match at one row and would
# otherwise rescan the held lines for every match in a nested loop (quadratic: it did not finish
# in 10 minutes at 1M); only the rules x customers product itself is a loop.
BASELINE_SETTINGS = (
    "SET LOCAL jit = off",
    "SET LOCAL enable_nestloop = off",
    "SET LOCAL work_mem = '256MB'",
)

DEFAULT_CHUNK_SIZE = 10_000  # segmentation.services.CHUNK_SIZE

CHECKSUM_SQL = """
SELECT md5(string_agg(id::text || ':' || segment || ':' || revenue::text || ':' || potential::text, ','
                      ORDER BY id))
FROM customers_customer
"""


def _child(as_of: dt.date, chunk_size: int, workers: int, repeat: int, connections: list[int]) -> dict:
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import override_settings

    from customers import gdv
    from segmentation import services
    from segmentation.models import SegmentationPolicy, ThresholdMethod, threshold_bands

    policy = SegmentationPolicy.objects.get(is_active=True)
    if (
        policy.revenue_method != ThresholdMethod.ABSOLUTE
        or policy.potential_method != ThresholdMethod.ABSOLUTE
    ):
        raise SystemExit("the baseline statement expects absolute thresholds (the default policy)")

    def execute(statement: str, params=None) -> int:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.rowcount

    def scalar(statement: str):
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchone()[0]

    def maintenance() -> None:
        for table in (
            "customers_customer",
            "customers_contract",
            "customers_commissionbooking",
            "segmentation_potentialcomponent",
            "segmentation_classchange",
            "segmentation_runrevenue",
        ):
            execute(f"VACUUM ANALYZE {table}")
        execute("CHECKPOINT")

    def reset() -> None:
        execute(
            "UPDATE customers_customer SET segment = '', revenue = 0, potential = 0, biggest_gap_id = NULL, "
            "segment_since = NULL, classified_at = NULL WHERE segment <> '' OR revenue <> 0 OR potential <> 0 "
            "OR biggest_gap_id IS NOT NULL OR segment_since IS NOT NULL OR classified_at IS NOT NULL"
        )
        execute("DELETE FROM segmentation_potentialcomponent")
        execute("DELETE FROM segmentation_classchange")
        execute("UPDATE segmentation_classoverride SET computed_class = '', ended_on = NULL")
        abandon_unfinished_runs()
        maintenance()

    def baseline(day: dt.date) -> tuple[float, int]:
        rev = threshold_bands(policy.revenue_value, policy.hysteresis_percent)
        pot = threshold_bands(policy.potential_value, policy.hysteresis_percent)
        params = {
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
        started = time.perf_counter()
        with transaction.atomic():
            for setting in BASELINE_SETTINGS:
                execute(setting)
            rows = execute(BASELINE_SQL, params)
        return time.perf_counter() - started, rows

    def job(day: dt.date, n: int) -> tuple[float, object]:
        started = time.perf_counter()
        with override_settings(JOB_CONNECTIONS=n):
            run = services.reclassification_run(as_of=day, chunk_size=chunk_size, followup=False)
        return time.perf_counter() - started, run

    def job_on_workers(day: dt.date) -> tuple[float, object]:
        """The production shape: dispatch to the Celery workers, wait for the finish task."""
        started = time.perf_counter()
        # Without the follow-up (care planning, #4's cost), like the in-process job: it would
        # run on the worker after the measured run and overlap the next measurement.
        run = services.reclassification_dispatch(as_of=day, chunk_size=chunk_size, followup=False)
        while True:
            run.refresh_from_db()
            if run.status in ("finished", "failed"):
                break
            time.sleep(0.05)
        if run.status != "finished":
            raise SystemExit(f"run {run.pk} failed: {run.errors}")
        return time.perf_counter() - started, run

    def abandon_unfinished_runs() -> None:
        """A run left unfinished (by an earlier, interrupted job) would be resumed, skipping its
        done chunks; after a reset the measured job must start afresh."""
        execute(
            "UPDATE segmentation_reclassificationrun SET status = 'abandoned' WHERE status IN ('running', 'failed')"
        )
        execute(
            "DELETE FROM segmentation_runrevenue WHERE run_id NOT IN (SELECT id FROM segmentation_reclassificationrun WHERE status = 'running')"
        )
        execute(
            "DELETE FROM segmentation_runfigure WHERE run_id NOT IN (SELECT id FROM segmentation_reclassificationrun WHERE status = 'running')"
        )

    def save_state() -> None:
        execute("DROP TABLE IF EXISTS bench_seg_customers")
        execute("DROP TABLE IF EXISTS bench_seg_components")
        execute(
            "CREATE UNLOGGED TABLE bench_seg_customers AS SELECT id, segment, revenue, potential, "
            "biggest_gap_id, segment_since, classified_at FROM customers_customer"
        )
        execute("CREATE UNLOGGED TABLE bench_seg_components AS SELECT * FROM segmentation_potentialcomponent")

    def restore_state(day: dt.date, components: bool = True) -> None:
        execute(
            "UPDATE customers_customer c SET segment = s.segment, revenue = s.revenue, potential = s.potential, "
            "biggest_gap_id = s.biggest_gap_id, segment_since = s.segment_since, classified_at = s.classified_at "
            "FROM bench_seg_customers s WHERE s.id = c.id AND (c.segment <> s.segment OR c.revenue <> s.revenue "
            "OR c.potential <> s.potential OR c.biggest_gap_id IS DISTINCT FROM s.biggest_gap_id "
            "OR c.classified_at IS DISTINCT FROM s.classified_at)"
        )
        execute("DELETE FROM segmentation_classchange WHERE date >= %s", [day])
        if components:
            execute("DELETE FROM segmentation_potentialcomponent")
            execute("INSERT INTO segmentation_potentialcomponent SELECT * FROM bench_seg_components")
        abandon_unfinished_runs()
        maintenance()

    connection.ensure_connection()
    # JIT compiling the baseline statement costs seconds and gains nothing (the job turns it off
    # for its chunks too): the baseline is measured at its best.
    execute("SET jit = off")
    sizes = {
        "customers": scalar("SELECT count(*) FROM customers_customer"),
        "contracts": scalar("SELECT count(*) FROM customers_contract"),
        "bookings": scalar("SELECT count(*) FROM customers_commissionbooking"),
    }
    result: dict = {
        **sizes,
        "load": c.load_average(),
        "workers": workers,
        "repeat": repeat,
        "connections": connections,
    }
    worker = _start_workers(workers) if workers else None

    def timed(measure) -> tuple[float, float | None, object, str]:
        """(the seconds `measure` timed, server CPU, its value, the book's checksum)."""
        (seconds, value), _wall, cpu = c.measured(measure)
        return seconds, cpu, value, scalar(CHECKSUM_SQL)

    def scenario(prepare, day: dt.date) -> dict:
        """Baseline, job in-process (on each number of connections) and job on the workers,
        interleaved `repeat` times (a shared machine is noisy); the fastest of each is kept."""
        runs: dict = {"baseline": [], "workers": [], **{n: [] for n in connections}}
        for _ in range(repeat):
            prepare(components=False)
            runs["baseline"].append(timed(lambda: baseline(day)))
            if worker:
                prepare(components=True)
                runs["workers"].append(timed(lambda: job_on_workers(day)))
            for n in connections:
                prepare(components=True)
                runs[n].append(timed(lambda n=n: job(day, n)))

        def best(key) -> dict:
            fastest = min(runs[key], key=lambda r: r[0])
            return {
                "s": fastest[0],
                "cpu_s": min((r[1] for r in runs[key] if r[1] is not None), default=None),
                "value": fastest[2],
                "same_result": all(r[3] == base[3] for r in runs[key]),
            }

        base = min(runs["baseline"], key=lambda r: r[0])
        out = {"baseline_s": base[0], "baseline_rows": base[2], "jobs": {}}
        out["baseline_cpu_s"] = best("baseline")["cpu_s"]
        for n in connections:
            b = best(n)
            out["jobs"][str(n)] = {
                "s": b["s"],
                "cpu_s": b["cpu_s"],
                "changed": b["value"].changed,
                "figures_changed": b["value"].figures_changed,
                "same_result": b["same_result"],
            }
        if worker:
            b = best("workers")
            out.update(workers_s=b["s"], workers_cpu_s=b["cpu_s"], workers_same_result=b["same_result"])
        return out

    try:
        # 1. First classification, from an unclassified book.
        result["first"] = scenario(lambda components: reset(), as_of)
        result["first"].update(
            components=scalar("SELECT count(*) FROM segmentation_potentialcomponent"),
            history_rows=scalar("SELECT count(*) FROM segmentation_classchange"),
        )
        # 2. The next night, from the state the job left (saved, so every variant starts from it).
        nxt = as_of + dt.timedelta(days=1)
        save_state()
        result["next_night"] = scenario(lambda components: restore_state(nxt, components=components), nxt)
        execute("DROP TABLE bench_seg_customers")
        execute("DROP TABLE bench_seg_components")
    finally:
        if worker:
            worker.terminate()
            worker.wait(timeout=60)
    return result


def _start_workers(concurrency: int) -> subprocess.Popen:
    """A Celery worker (prefork, `concurrency` processes) on the bench database and Redis."""
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    worker = subprocess.Popen(
        [c.PYTHON, "-m", "celery", "-A", "brokercrm", "worker", f"--concurrency={concurrency}",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=c.ROOT,
        env=os.environ.copy(),
    )  # fmt: skip
    time.sleep(5)  # started and connected
    return worker


def measure(
    db: str, as_of: dt.date, chunk_size: int, workers: int, repeat: int, connections: list[int]
) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": c.db_url(db),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"),
        "CONN_MAX_AGE": "600",
        "DJANGO_SETTINGS_MODULE": "brokercrm.settings",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get(
            "SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
        ),
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_MANIFEST": "false",
    }
    out = subprocess.run(
        [
            c.PYTHON,
            __file__,
            "--child",
            "--as-of",
            as_of.isoformat(),
            "--chunk-size",
            str(chunk_size),
            "--workers",
            str(workers),
            "--repeat",
            str(repeat),
            "--connections",
            ",".join(map(str, connections)),
        ],
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
        cwd=c.ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_book(customers: int, seed: int) -> str:
    db = f"bench_brokercrm_{c.size_label(customers)}"
    if c.customer_count(db) != customers:
        print(f"{db}: building {customers:,} customers (migrate, seed_demo)", flush=True)
        c.recreate_database(db)
        c.manage(db, "migrate", "--noinput", "-v", "0")
        c.manage(db, "seed_demo", "--customers", str(customers), "--seed", str(seed), "--no-progress")
        c.settle(db)  # the book is shared with the other benches
    else:
        c.manage(db, "migrate", "--noinput", "-v", "0")
    return db


def cpu(seconds: float | None, baseline: float | None = None) -> str:
    """ "   database server CPU 12.3 s (1.05x)": the server's CPU, all connections and workers."""
    if seconds is None:
        return ""
    ratio = f" ({seconds / baseline:.2f}x)" if baseline else ""
    return f"\n      database server CPU {seconds:.2f} s{ratio}"


def report(db: str, r: dict) -> None:
    lines = [
        f"\n{db}: {r['customers']:,} customers, {r['contracts']:,} contracts, {r['bookings']:,} bookings "
        f"(load {r['load']}; fastest of {r['repeat']})"
    ]
    for key, title in (("first", "first classification"), ("next_night", "next night (as-of + 1 day)")):
        s = r[key]
        lines += [
            f"  {title}:",
            f"    baseline (one SQL statement)  {s['baseline_s']:8.2f} s   ({s['baseline_rows']:,} rows written)"
            + cpu(s["baseline_cpu_s"]),
        ]
        for n, j in s["jobs"].items():
            lines += [
                f"    job in-process, {n} connection{'s' if n != '1' else ' '}  {j['s']:8.2f} s   ratio "
                f"{j['s'] / s['baseline_s']:.2f}x (target <= 1.2x)   same result: {j['same_result']}"
                + cpu(j["cpu_s"], s["baseline_cpu_s"]),
                f"      ({j['changed']:,} class changes, {j['figures_changed']:,} customers written)",
            ]
        if "workers_s" in s:
            lines.append(
                f"    job on {r['workers']} worker processes   {s['workers_s']:8.2f} s   ratio "
                f"{s['workers_s'] / s['baseline_s']:.2f}x (target <= 1.2x)   same result: {s['workers_same_result']}"
                + cpu(s.get("workers_cpu_s"), s["baseline_cpu_s"])
            )
    first = r["first"]
    lines.append(
        f"  the job wrote {first['components']:,} potential components and {first['history_rows']:,} history rows"
    )
    print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", default="100000", help="comma-separated sizes, e.g. 100000,1000000")
    parser.add_argument("--db", action="append", help="measure this database instead (repeatable)")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also run the job on a Celery worker with N processes (0: skip)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure each variant N times, keep the fastest"
    )
    parser.add_argument(
        "--connections",
        default="1,2",
        help="run the job in-process on each of these numbers of database connections (JOB_CONNECTIONS)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    connections = [int(n) for n in args.connections.split(",")]
    as_of = args.as_of or dt.date.today()
    if args.child:
        print(json.dumps(_child(as_of, args.chunk_size, args.workers, args.repeat, connections), default=str))
        return
    if args.db:
        for db in args.db:
            c.manage(db, "migrate", "--noinput", "-v", "0")
    databases = args.db or [ensure_book(int(n), args.seed) for n in args.customers.split(",")]
    results = []
    for db in databases:
        result = measure(
            db, as_of, args.chunk_size or DEFAULT_CHUNK_SIZE, args.workers, args.repeat, connections
        )
        report(db, result)
        results.append((db, result))
    if len(results) > 1:
        (db0, r0), (db1, r1) = results[0], results[-1]
        factor = r1["customers"] / r0["customers"]
        print(f"\ngrowth {db0} -> {db1} ({factor:.0f}x customers):")
        for key in ("first", "next_night"):
            line = f"  {key:10}  baseline {r1[key]['baseline_s'] / r0[key]['baseline_s']:5.1f}x"
            for n in r1[key]["jobs"]:
                if n in r0[key]["jobs"]:
                    line += f"   job on {n} connection(s) {r1[key]['jobs'][n]['s'] / r0[key]['jobs'][n]['s']:5.1f}x"
            if "workers_s" in r0[key] and "workers_s" in r1[key]:
                line += f"   job on workers {r1[key]['workers_s'] / r0[key]['workers_s']:5.1f}x"
            print(line)
    c.RESULTS.mkdir(exist_ok=True)
    out = c.RESULTS / f"reclassify_{as_of.isoformat()}.json"
    saved = json.loads(out.read_text()) if out.exists() else {}  # other sizes measured earlier today
    out.write_text(json.dumps({**saved, **dict(results)}, indent=2, default=str))
    print(f"\nfigures saved to {out.relative_to(c.ROOT)}")


if __name__ == "__main__":
    main()
