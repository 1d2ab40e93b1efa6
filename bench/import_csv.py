"""Benchmark: check and import a 100,000-row customers CSV, against a plain bulk_create.

    .venv/bin/python bench/import_csv.py [--rows 100000] [--database NAME]

Runs on the PostgreSQL database DATABASE_URL names, else on NAME (default
bench_brokercrm_import on the BENCH_PG server, created when missing; migrated either way).

Generates a German CSV (UTF-8 with BOM, `;`, dates DD.MM.YYYY, 14 columns), then times
  1. the check (dry run: parsing, validation, one lookup query per batch),
  2. the import (the same work plus bulk_create per batch, in one transaction),
  3. the re-import check of the same file (every row found, nothing to change),
and as the baseline, in the same run, bulk_create of the same rows (parsed, without any
validation or lookups) in batches of the same size, once alone and once with the audit trail's
history rows (django-simple-history), which the import writes as well. The issue's bar: 100,000 rows in under
2 minutes on PostgreSQL (check + import). Touches only customers numbered BENCH-…; the
figures also go to bench/results/import_csv_<rows>k.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokercrm.settings")

DEFAULT_DATABASE = "bench_brokercrm_import"
PREFIX = "BENCH-"
HEADER = (
    "Kundennummer;Anrede;Vorname;Name;Geburtsdatum;E-Mail;Telefon;Straße;PLZ;Ort;Familienstand;Kinder;Autos;"
    "Wohneigentum"
)
FIRST = [
    "Erika",
    "Max",
    "Jürgen",
    "Anna",
    "Lena",
    "Paul",
    "Sophie",
    "Lukas",
    "Marie",
    "Jonas",
    "Hannah",
    "Felix",
]
LAST = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
]
CITIES = [
    ("06526", "Sangerhausen"),
    ("99084", "Erfurt"),
    ("10115", "Berlin"),
    ("80331", "München"),
    ("50667", "Köln"),
]


def generate(rows: int) -> tuple[bytes, list[list[str]]]:
    rng = random.Random(7)
    records = []
    for n in range(rows):
        plz, city = rng.choice(CITIES)
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 60 * 365))
        records.append(
            [
                f"{PREFIX}{n:07d}", rng.choice(["Herr", "Frau"]), rng.choice(FIRST), rng.choice(LAST),
                birth.strftime("%d.%m.%Y"), f"kunde{n}@example.org",
                f"0{rng.randrange(100, 999)} {rng.randrange(100000, 999999)}", f"Hauptstraße {n % 200 + 1}", plz,
                city, rng.choice(["ledig", "verheiratet", ""]), str(rng.randrange(0, 4)), str(rng.randrange(0, 3)),
                rng.choice(["ja", "nein"]),
            ]
        )  # fmt: skip
    text = HEADER + "\r\n" + "".join(";".join(r) + "\r\n" for r in records)
    return ("\ufeff" + text).encode("utf-8"), records


def baseline(records: list[list[str]], *, history: bool = False) -> float:
    """bulk_create of the same rows, parsed but not validated, no lookups (with `history`, plus
    the audit trail's rows, which the import writes too)."""
    from customers.models import Customer
    from imports import conf
    from imports.importers import record_history

    salutation = {"Herr": "1", "Frau": "2"}
    marital = {"ledig": "1", "verheiratet": "2", "": ""}
    started = time.perf_counter()
    objs = [
        Customer(
            number=r[0], salutation=salutation[r[1]], first_name=r[2], name=r[3],
            birth_date=dt.datetime.strptime(r[4], "%d.%m.%Y").date(), email=r[5], phone=r[6], street=r[7],
            postal_code=r[8], city=r[9], marital_status=marital[r[10]], children=int(r[11]), cars=int(r[12]),
            homeowner=r[13] == "ja",
        )
        for r in records
    ]  # fmt: skip
    Customer.objects.bulk_create(objs, batch_size=conf.batch_size())
    if history:
        record_history(Customer, objs, update=False, by=None, reason="bench")
    return time.perf_counter() - started


def clean() -> None:
    from customers.models import Customer
    from imports.models import ImportJob

    Customer.objects.filter(number__startswith=PREFIX).delete()
    ImportJob.objects.filter(file_name__startswith="bench-").delete()


def timed_check(content: bytes, name: str):
    from imports import services

    job = services.import_job_create_from_bytes(content=content, file_name=name, kind="customers", by=None)
    services.import_job_map(job=job, mapping=job.mapping, dispatch=False)
    started = time.perf_counter()
    job = services.import_job_run(job_id=job.pk, phase=services.CHECK)
    return job, time.perf_counter() - started


def run(rows: int) -> dict:
    from django.db import connection

    from customers.models import Customer
    from imports import services
    from imports.models import ImportJob

    clean()
    started = time.perf_counter()
    content, records = generate(rows)
    print(f"database              {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"rows                  {rows:,}")
    print(
        f"CSV                   {len(content) / 1024 / 1024:.1f} MB, made in {time.perf_counter() - started:.1f} s"
    )

    job, check_seconds = timed_check(content, "bench-1.csv")
    assert job.status == ImportJob.Status.READY, (job.error_count, job.errors[:3], job.message)
    services.import_job_confirm(job=job, dispatch=False)
    started = time.perf_counter()
    job = services.import_job_run(job_id=job.pk, phase=services.IMPORT)
    import_seconds = time.perf_counter() - started
    assert job.status == ImportJob.Status.DONE, job.message
    assert Customer.objects.filter(number__startswith=PREFIX).count() == rows

    job, recheck_seconds = timed_check(content, "bench-2.csv")
    assert job.counts.get("unchanged") == rows, job.counts

    clean()
    base_seconds = baseline(records)
    clean()
    history_seconds = baseline(records, history=True)
    clean()

    total = check_seconds + import_seconds
    print(f"check (dry run)       {check_seconds:7.1f} s   {rows / check_seconds:9,.0f} rows/s")
    print(f"import (1 transaction){import_seconds:7.1f} s   {rows / import_seconds:9,.0f} rows/s")
    print(f"check + import        {total:7.1f} s   (bar: 120 s for 100,000 rows)")
    print(f"re-import check       {recheck_seconds:7.1f} s   (every row found unchanged)")
    print(f"baseline bulk_create  {base_seconds:7.1f} s   (same rows, no validation, no lookups)")
    print(
        f"  + audit trail rows  {history_seconds:7.1f} s   (bulk_create and the history rows the import writes)"
    )
    print(f"ratio import/baseline {import_seconds / base_seconds:7.1f} x")
    print(f"ratio (check+import)/baseline {total / base_seconds:5.1f} x")
    print(f"ratio import/(baseline + audit trail) {import_seconds / history_seconds:5.1f} x")
    return {
        "rows": rows,
        "check_s": round(check_seconds, 2),
        "import_s": round(import_seconds, 2),
        "check_plus_import_s": round(total, 2),
        "recheck_s": round(recheck_seconds, 2),
        "baseline_bulk_create_s": round(base_seconds, 2),
        "baseline_with_history_s": round(history_seconds, 2),
        "ratio_import_to_baseline": round(import_seconds / base_seconds, 2),
        "ratio_total_to_baseline": round(total / base_seconds, 2),
        "ratio_import_to_baseline_with_history": round(import_seconds / history_seconds, 2),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="used when DATABASE_URL is not set")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        from bench import _common

        if not _common.database_exists(args.database):
            _common.recreate_database(args.database)
        os.environ["DATABASE_URL"] = _common.db_url(args.database)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("DATABASE_URL must name a PostgreSQL database: the bar is for PostgreSQL.")
    call_command("migrate", verbosity=0)
    figures = run(args.rows)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"import_csv_{args.rows // 1000}k.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
