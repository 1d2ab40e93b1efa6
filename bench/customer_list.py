"""Benchmark: the customer list (filtered, sorted, paged) against hello-world, same middleware.

    .venv/bin/python bench/customer_list.py --customers 100000,1000000 [--requests 40]
    .venv/bin/python bench/customer_list.py --db my_copy_100k --db my_copy_1m   # prepared books

For each size it makes sure a PostgreSQL database with that many customers exists
(bench_brokercrm_100k, bench_brokercrm_1m, ...: reused when present, else built with migrate and
seed_demo; revenue is then set from the ledger, or with --reclassify by the segmentation job),
then measures in a child process with Django's test Client, logged in
as the demo owner, the server time of each list request and of a login-required hello-world view
mounted by bench/urls.py — both through the full middleware stack, in the same run: the full page,
the htmx partial (the table alone, as a filter change or a page click asks for it) and the count
line, which the page loads through htmx after its rows (the rows' request does not count). The
kinds of request take turns in rounds of a few requests each, hello-world among them, so a
machine whose speed drifts during the run moves all of them alike. It prints median and p95 in
ms and the ratio of each median to hello-world's. Target: <= 3x at
1,000,000.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c  # noqa: E402

# (label, path): what an office worker does on the list.
CASES = [
    ("first page", "/customers/"),
    ("q=Müller (sorted by name, the default)", "/customers/?q=M%C3%BCller"),
    (
        "q=Müller, active, by revenue desc, page 3",
        "/customers/?q=M%C3%BCller&status=active&sort=-revenue&page=3",
    ),
    ("PLZ 06…, by name, page 2", "/customers/?plz=06&sort=name&page=2"),
    (
        "advisor, holds Hausrat, by potential desc",
        "/customers/?advisor={advisor}&holding_line=130&sort=-potential",
    ),
    ("class O, PLZ 0…, biggest gap BU", "/customers/?segment=O&plz=0&biggest_gap=BU&sort=-potential"),
]
HELLO = ("hello world (login required)", "/bench/hello/")
HTMX = {"HTTP_HX_REQUEST": "true"}
PER_ROUND = 4  # requests of each kind per round


def ensure_book(customers: int, seed: int, rebuild: bool, reclassify: bool) -> str:
    db = f"bench_brokercrm_{c.size_label(customers)}"
    with c.build_lock(db):  # other benches build the same databases
        if not rebuild and c.customer_count(db) == customers:
            print(f"{db}: reusing {customers:,} customers", flush=True)
            c.manage(db, "migrate", "--noinput", "-v", "0")
            return db
        print(f"{db}: building {customers:,} customers (migrate, seed_demo)", flush=True)
        c.recreate_database(db)
        c.manage(db, "migrate", "--noinput", "-v", "0")
        seconds, _ = c.timed(c.manage, db, "seed_demo", "--customers", str(customers), "--seed", str(seed))
        print(f"  seed_demo: {seconds:.1f} s", flush=True)
        classify(db, reclassify)
        c.settle(db)
    return db


def classify(db: str, reclassify: bool) -> None:
    """Revenue (and with --reclassify potential and class) on the customers, so sorting by them
    means something. The default is one UPDATE: the bench must not wait for another feature."""
    if reclassify:
        seconds, _ = c.timed(c.manage, db, "reclassify", "--no-progress")
        print(f"  reclassify: {seconds:.1f} s", flush=True)
        return
    conn = c.connect(db)
    with conn.cursor() as cur:
        cur.execute(
            """
            UPDATE customers_customer cu SET revenue = r.total
            FROM (SELECT k.customer_id, SUM(b.amount) AS total
                  FROM customers_commissionbooking b JOIN customers_contract k ON k.id = b.contract_id
                  WHERE b.booked_on > CURRENT_DATE - INTERVAL '12 months'
                  GROUP BY k.customer_id) r
            WHERE r.customer_id = cu.id
            """
        )
    conn.close()
    print("  revenue of the last 12 months set from the ledger", flush=True)


def measure(db: str, requests: int) -> list[dict]:
    """Run the measurement in a child process: settings read DATABASE_URL once, at start."""
    env = {
        **os.environ,
        "DATABASE_URL": c.db_url(db),
        "DJANGO_SETTINGS_MODULE": "brokercrm.settings",
        # Production-like: no DEBUG query log, no SSL redirect for the test client.
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get(
            "SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
        ),
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_MANIFEST": "false",
    }
    out = subprocess.run(
        [c.PYTHON, __file__, "--measure", db, "--requests", str(requests)],
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
        cwd=c.ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(requests: int) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    from brokercrm.accounts.models import User

    # No setup_test_environment(): it instruments template rendering, which would slow the list
    # (templates) and not hello-world (none).
    owner = User.objects.get(username="inhaber")
    advisor = User.objects.get(username="innendienst")
    client = Client()
    client.force_login(owner)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    # Every request kind is timed in rounds that take turns (a few requests of each per round),
    # hello-world among them, so a machine that speeds up or slows down during the run moves all
    # of them alike and the ratios stay comparable.
    kinds = {"hello": (HELLO[1], {})}
    for label, template in CASES:
        path = template.format(advisor=advisor.pk)
        kinds[(label, "page")] = (path, {})
        kinds[(label, "partial")] = (path, HTMX)
        # The count line, which the page loads through htmx after its rows.
        kinds[(label, "count")] = (path.replace("/customers/", "/customers/count/", 1), HTMX)
    with override_settings(ROOT_URLCONF="bench.urls"):
        for path, headers in kinds.values():
            for _ in range(3):  # warm up: caches, connection, first touch of the pages
                response = client.get(path, **headers)
                assert response.status_code == 200, (path, response.status_code)
        times = {kind: [] for kind in kinds}
        for _round in range(max(1, requests // PER_ROUND)):
            for kind, (path, headers) in kinds.items():
                for _ in range(PER_ROUND):
                    started = time.perf_counter()
                    response = client.get(path, **headers)
                    times[kind].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200
    stats = {kind: {"median_ms": c.median(t), "p95_ms": c.percentile(t, 0.95)} for kind, t in times.items()}
    results = [{"case": HELLO[0], "path": HELLO[1], **stats["hello"]}]
    for label, _template in CASES:
        results.append(
            {
                "case": label,
                "path": kinds[(label, "page")][0],
                **stats[(label, "page")],
                "partial_median_ms": stats[(label, "partial")]["median_ms"],
                "partial_p95_ms": stats[(label, "partial")]["p95_ms"],
                "count_median_ms": stats[(label, "count")]["median_ms"],
                "count_p95_ms": stats[(label, "count")]["p95_ms"],
            }
        )
    print(json.dumps(results))


def report(customers: int, results: list[dict]) -> None:
    hello = results[0]["median_ms"]
    print(f"\n{customers:,} customers (load average {c.load_average()})")
    head = f"{'median ms':>10}{'p95 ms':>9}{'x hello':>9}"
    print(f"  {'':44}{'full page':^28}{'htmx partial (the table)':^28}{'count line (htmx, after)':^28}")
    print(f"  {'case':<44}{head}{head}{head}")
    for r in results:
        line = f"  {r['case']:<44}{r['median_ms']:10.1f}{r['p95_ms']:9.1f}{r['median_ms'] / hello:9.1f}"
        if "partial_median_ms" in r:
            pm = r["partial_median_ms"]
            cm = r["count_median_ms"]
            line += f"{pm:10.1f}{r['partial_p95_ms']:9.1f}{pm / hello:9.1f}"
            line += f"{cm:10.1f}{r['count_p95_ms']:9.1f}{cm / hello:9.1f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per case")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the databases even if present")
    parser.add_argument(
        "--reclassify", action="store_true", help="classify a new book with the segmentation job (slower)"
    )
    parser.add_argument(
        "--db", action="append", help="measure this prepared database instead (repeatable; it is migrated)"
    )
    parser.add_argument("--measure", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _child(args.requests)
        return
    all_results = {}
    if args.db:
        books = []
        for db in args.db:
            c.manage(db, "migrate", "--noinput", "-v", "0")
            books.append((c.customer_count(db), db))
    else:
        sizes = (int(s.replace("_", "")) for s in args.customers.split(","))
        books = [(size, ensure_book(size, args.seed, args.rebuild, args.reclassify)) for size in sizes]
    for size, db in books:
        results = measure(db, args.requests)
        report(size, results)
        all_results[size] = results
    c.RESULTS.mkdir(parents=True, exist_ok=True)
    (c.RESULTS / "customer_list.json").write_text(json.dumps(all_results, indent=2))


if __name__ == "__main__":
    main()
