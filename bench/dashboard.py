"""Benchmark: the owner's dashboard page against hello-world, same middleware, same run.

    .venv/bin/python bench/dashboard.py [--customers 100000,1000000] [--requests 30]
    .venv/bin/python bench/dashboard.py --real-db bench_brokercrm_1m   # a seeded, classified book

Two kinds of book:

- synthetic (default): a PostgreSQL database ``h_dash_bench_<size>`` per size (built when absent
  or with --rebuild: migrate, then set-based SQL) holding what the dashboard reads, in the shape of
  a book in steady operation: N customers over 12 advisors with revenue, potential and class; a
  class history whose initial classification lies four months back, followed by four monthly runs
  and yesterday's night run that each move ~0.5 % of the book; ~3 care tasks per customer around
  today (done, skipped, open, overdue). Contracts and bookings are not generated (the page does
  not read them).
- --real-db NAME: an existing book (e.g. the seed helper's bench_brokercrm_1m, built by
  seed_demo and reclassify); it is migrated, and its latest finished run gets a dashboard
  snapshot if it has none. Nothing else is written.

For each book it times ``dashboards.services.snapshot_take`` (the nightly step), then measures in
a child process with Django's test Client, logged in as an owner, DEBUG off, the server time of
the dashboard (default period: a month ago → today; with an advisor; over a year, which on the
synthetic book includes the initial classification of every customer) and of a login-required
hello-world view mounted by bench/urls.py, through the full middleware stack. It prints median
and p95 in ms, the ratio to hello-world, and each page's query count (which must not grow with
the book). Target: dashboard median <= 300 ms at 1,000,000 customers.
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

ADVISORS = 12
HISTORY_RUNS_DAYS_AGO = [120, 90, 60, 30, 1]  # the first is the initial classification
CHANGE_MODULUS = 199  # ~0.5 % of the book changes class in each later run
TASKS_PER_CUSTOMER = 3
HELLO = ("hello world (login required)", "/bench/hello/")


def cases(today: dt.date, advisor_id: int) -> list[tuple[str, str]]:
    year_ago = today.replace(year=today.year - 1)
    return [
        HELLO,
        ("dashboard (default: a month ago → today)", "/dashboards/"),
        ("dashboard, one advisor", f"/dashboards/?advisor={advisor_id}"),
        (
            "dashboard, a year (incl. initial classification)",
            f"/dashboards/?from={year_ago:%Y-%m-%d}&to={today:%Y-%m-%d}",
        ),
    ]


# --- building a synthetic book (child process, Django set up) ------------------------------------


def _insert_select(cursor, model, exprs: dict[str, str | tuple[str, list]], source: str, params: list) -> int:
    """INSERT INTO model's table SELECT exprs FROM source. An expression is SQL, or (SQL, its
    parameters); every other NOT NULL column gets its field default, so the statement survives
    new columns with defaults."""
    from django.utils import timezone

    columns, values, select_params = [], [], []
    for f in model._meta.concrete_fields:
        if f.column == "id":
            continue
        columns.append(f.column)
        expr = exprs.get(f.column)
        if isinstance(expr, tuple):
            values.append(expr[0])
            select_params.extend(expr[1])
        elif expr is not None:
            values.append(expr)
        elif f.null:
            values.append("NULL")
        else:
            values.append("%s")
            select_params.append(
                f.get_db_prep_save(f.get_default() if f.has_default() else timezone.now(), cursor.db)
            )
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}"
    )
    cursor.execute(sql, [*select_params, *params])
    return cursor.rowcount


def _build(size: int) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils import timezone

    from brokercrm.accounts.models import User
    from brokercrm.accounts.roles import OWNER_GROUP, STAFF_GROUP
    from customers.models import Customer
    from segmentation.models import ClassChange, ReclassificationRun, SegmentationPolicy
    from servicelevels.models import CareActivity, CareTask

    today = timezone.localdate()
    now = timezone.now()
    policy = SegmentationPolicy.objects.get(is_active=True)
    with transaction.atomic():  # the book below is one transaction too: all or nothing
        owner = User.objects.create_user("bench-owner", password="bench-only-password-1")
        owner.groups.add(Group.objects.get(name=OWNER_GROUP))
        staff = Group.objects.get(name=STAFF_GROUP)
        advisors = [owner]
        for i in range(ADVISORS - 1):
            user = User.objects.create_user(f"bench-staff-{i}", first_name="Staff", last_name=f"{i:02d}")
            user.groups.add(staff)
            advisors.append(user)
        ids = [u.pk for u in advisors]
    t0 = time.perf_counter()
    first = today - dt.timedelta(days=HISTORY_RUNS_DAYS_AGO[0])
    with transaction.atomic(), connection.cursor() as cur:
        # Customers: revenue and potential spread over a few orders of magnitude; 4 % former;
        # the class from the active policy's absolute thresholds.
        high_revenue, high_potential = policy.revenue_value, policy.potential_value
        _insert_select(
            cur,
            Customer,
            {
                "number": "'S' || lpad(s.g::text, 8, '0')",
                "name": "'Kunde ' || s.g",
                "first_name": "'Vorname'",
                "postal_code": "lpad(((s.g::bigint * 7919) %% 99999)::text, 5, '0')",
                "city": "'Stadt'",
                "advisor_id": f"(ARRAY{ids})[1 + s.g %% {ADVISORS}]",
                "status": "CASE WHEN s.g %% 25 = 0 THEN 'former' ELSE 'active' END",
                "revenue": "s.rev",
                "potential": "s.pot",
                "segment": (
                    "CASE WHEN s.g %% 25 = 0 THEN '' WHEN s.rev >= %s AND s.pot >= %s THEN 'A' "
                    "WHEN s.rev >= %s THEN 'B' WHEN s.pot >= %s THEN 'O' ELSE 'C' END",
                    [high_revenue, high_potential, high_revenue, high_potential],
                ),
                "classified_at": ("%s", [today]),
                "created_at": ("%s", [now]),
                "updated_at": ("%s", [now]),
            },
            "(SELECT g, round((exp(random() * 8.5) - 1)::numeric, 2) AS rev, "
            "CASE WHEN random() < 0.4 THEN 0 ELSE round((exp(random() * 7.5) - 1)::numeric, 2) END AS pot "
            "FROM generate_series(1, %s) g) s",
            [size],
        )
        # Runs, and a history consistent with the stored classes: the initial classification,
        # then per later run ~0.5 % of the book moving from a rotated class to its class now.
        runs = []
        for days in HISTORY_RUNS_DAYS_AGO:
            as_of = today - dt.timedelta(days=days)
            started = now - dt.timedelta(days=days, hours=1) if days > 1 else now - dt.timedelta(hours=3)
            runs.append(
                ReclassificationRun.objects.create(
                    as_of=as_of,
                    status="finished",
                    trigger="schedule",
                    started_at=started,
                    finished_at=started + dt.timedelta(seconds=40),
                    policy=policy,
                    window_start=as_of,
                    chunk_size=10000,
                    revenue_threshold=policy.revenue_value,
                    potential_threshold=policy.potential_value,
                    thresholds_at=started,
                    customers=size,
                )
            )
        rotated = "(CASE c.segment WHEN 'A' THEN 'O' WHEN 'B' THEN 'C' WHEN 'C' THEN 'B' ELSE 'A' END)"
        later = " OR ".join(f"c.id %% {CHANGE_MODULUS} = {k}" for k in range(1, len(runs)))
        history = {
            "customer_id": "c.id",
            "revenue": "c.revenue",
            "potential": "c.potential",
            "policy_id": str(policy.pk),
            "source": "'computed'",
            "created_at": ("%s", [now]),
        }
        _insert_select(
            cur,
            ClassChange,
            {
                **history,
                "date": ("%s", [first]),
                "old_class": "''",
                "new_class": f"CASE WHEN {later} THEN {rotated} ELSE c.segment END",
                "computed_class": "c.segment",
                "run_id": str(runs[0].pk),
            },
            "customers_customer c WHERE c.segment <> ''",
            [],
        )
        for k, run in enumerate(runs[1:], start=1):
            _insert_select(
                cur,
                ClassChange,
                {
                    **history,
                    "date": ("%s", [run.as_of]),
                    "old_class": rotated,
                    "new_class": "c.segment",
                    "computed_class": "c.segment",
                    "run_id": str(run.pk),
                },
                f"customers_customer c WHERE c.segment <> '' AND c.id %% {CHANGE_MODULUS} = {k}",
                [],
            )
        # Care tasks around today: past ones mostly done, some skipped or still open (overdue).
        activities = list(CareActivity.objects.order_by("id").values_list("id", flat=True))
        _insert_select(
            cur,
            CareTask,
            {
                "customer_id": "c.id",
                "activity_id": f"(ARRAY{activities})[1 + (c.id + t) %% {len(activities)}]",
                "scope_key": "t",
                "occurrence": "d.due",
                "due_date": "d.due",
                "assignee_id": "c.advisor_id",
                "channel": "'letter'",
                "status": (
                    "CASE WHEN d.due >= %s THEN 'open' WHEN d.r < 0.7 THEN 'done' "
                    "WHEN d.r < 0.8 THEN 'skipped' ELSE 'open' END",
                    [today],
                ),
                "closed_at": (
                    "CASE WHEN d.due < %s AND d.r < 0.8 THEN d.due + interval '2 days' END",
                    [today],
                ),
                "planned_on": "d.due - 30",
                "created_at": ("%s", [now]),
            },
            "customers_customer c CROSS JOIN generate_series(1, %s) t "
            "CROSS JOIN LATERAL (SELECT %s::date + ((c.id * 37 + t * 101) %% 300)::int - 180 AS due, "
            "random() + 0 * c.id AS r) d WHERE c.status = 'active'",
            [TASKS_PER_CUSTOMER, today],
        )
        for run in runs:
            cur.execute(
                "SELECT old_class, new_class, COUNT(*) FROM segmentation_classchange WHERE run_id = %s "
                "GROUP BY 1, 2",
                [run.pk],
            )
            run.transitions = {f"{o}->{n}": k for o, n, k in cur.fetchall()}
            run.changed = sum(run.transitions.values())
            run.save(update_fields=["transitions", "changed"])
        cur.execute("ANALYZE")
    print(json.dumps({"built_seconds": time.perf_counter() - t0}))


# --- snapshot and measurement (child process) -----------------------------------------------------


def _snapshot() -> None:
    import django

    django.setup()
    from dashboards.selectors import latest_finished_run
    from dashboards.services import snapshot_take

    run = latest_finished_run()
    if run is None:
        print(json.dumps({"error": "no finished reclassification run"}))
        return
    started = time.perf_counter()
    snapshot = snapshot_take(run=run)
    print(
        json.dumps(
            {"snapshot_seconds": time.perf_counter() - started, "run": run.pk, "snapshot": snapshot.pk}
        )
    )


def _measure(requests: int) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment
    from django.utils import timezone

    from brokercrm.accounts.models import User
    from brokercrm.accounts.roles import OWNER_GROUP
    from customers.models import Customer

    setup_test_environment()
    owner = User.objects.filter(groups__name=OWNER_GROUP, is_active=True).order_by("id").first()
    advisor_id = (
        Customer.objects.exclude(advisor=None).order_by("id").values_list("advisor_id", flat=True).first()
        or owner.pk
    )
    customers = Customer.objects.count()
    client = Client()
    client.force_login(owner)
    results = []
    with override_settings(ROOT_URLCONF="bench.urls"):
        for label, path in cases(timezone.localdate(), advisor_id):
            for _ in range(3):  # warm up: connection, caches, first touch of pages
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
            executed: list[str] = []

            def count(execute, sql, params, many, context, executed=executed):
                executed.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                client.get(path)
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            results.append(
                {
                    "case": label,
                    "path": path,
                    "median_ms": c.median(times),
                    "p95_ms": c.percentile(times, 0.95),
                    "queries": len(executed),
                }
            )
    print(json.dumps({"customers": customers, "results": results}))


# --- driver -------------------------------------------------------------------------------------


def child(db: str, *args: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": c.db_url(db),
        "DJANGO_SETTINGS_MODULE": "brokercrm.settings",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get(
            "SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
        ),
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_MANIFEST": "false",
    }
    out = subprocess.run(
        [c.PYTHON, __file__, *args], env=env, check=True, text=True, stdout=subprocess.PIPE, cwd=c.ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_synthetic(size: int, rebuild: bool) -> tuple[str, float | None]:
    db = f"h_dash_bench_{c.size_label(size)}"
    if not rebuild and c.customer_count(db) == size:
        print(f"{db}: reusing {size:,} customers")
        c.manage(db, "migrate", "--noinput", "-v", "0")
        return db, None
    print(f"{db}: building a synthetic book of {size:,} customers")
    c.recreate_database(db)
    c.manage(db, "migrate", "--noinput", "-v", "0")
    built = child(db, "--child-build", str(size))["built_seconds"]
    print(f"  built in {built:.1f} s")
    return db, built


def report(label: str, size: int, snapshot: dict, measured: dict) -> None:
    results = measured["results"]
    hello = results[0]["median_ms"]
    print(f"\n{label}: {measured['customers']:,} customers (load {c.load_average()})")
    if "snapshot_seconds" in snapshot:
        print(f"  snapshot_take (nightly, once per run): {snapshot['snapshot_seconds']:.1f} s")
    print(f"  {'case':<52}{'median ms':>10}{'p95 ms':>10}{'x hello':>9}{'queries':>9}")
    for r in results:
        print(
            f"  {r['case']:<52}{r['median_ms']:10.1f}{r['p95_ms']:10.1f}"
            f"{r['median_ms'] / hello:9.1f}{r['queries']:9d}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", default="100000,1000000", help="sizes of the synthetic books")
    parser.add_argument("--real-db", action="append", default=[], help="also measure this existing book")
    parser.add_argument("--no-synthetic", action="store_true", help="only the --real-db books")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per case")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the synthetic books")
    parser.add_argument("--child-build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-snapshot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_build:
        _build(args.child_build)
        return
    if args.child_snapshot:
        _snapshot()
        return
    if args.child_measure:
        _measure(args.requests)
        return
    books: list[tuple[str, str, int]] = []
    if not args.no_synthetic:
        for size in (int(s.replace("_", "")) for s in args.customers.split(",") if s):
            db, _built = ensure_synthetic(size, args.rebuild)
            books.append(("synthetic", db, size))
    for db in args.real_db:
        size = c.customer_count(db)
        if size is None:
            print(f"{db}: no such book; skipped")
            continue
        c.manage(db, "migrate", "--noinput", "-v", "0")
        books.append((f"real book {db}", db, size))
    all_results = {}
    for label, db, size in books:
        snapshot = child(db, "--child-snapshot")
        if "error" in snapshot:
            print(f"{db}: {snapshot['error']}; skipped")
            continue
        measured = child(db, "--child-measure", "--requests", str(args.requests))
        report(f"{label} ({db})", size, snapshot, measured)
        all_results[db] = {"snapshot": snapshot, **measured}
    c.RESULTS.mkdir(parents=True, exist_ok=True)
    path = c.RESULTS / "dashboard.json"
    earlier = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**earlier, **all_results}, indent=2))


if __name__ == "__main__":
    main()
