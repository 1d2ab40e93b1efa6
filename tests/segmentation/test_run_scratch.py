"""The run's scratch rows (revenue per customer) are deleted when it finishes and, on PostgreSQL,
vacuumed away at once, so night after night the ledger pass writes into reused pages. In CI this
fails (never skips) without PostgreSQL."""

import datetime as dt

import pytest
from django.db import connection, transaction

from segmentation import services
from segmentation.models import ReclassificationRun, RunStatus
from tests.segmentation.factories import build_book

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
AS_OF = dt.date(2026, 6, 30)


def last_vacuum(table: str, what: str = "vacuum"):
    """When the table was last vacuumed by hand (or, `what="analyze"`, analyzed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(f"SELECT last_{what} FROM pg_stat_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()[0]


def scratch_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM segmentation_runrevenue")
        return cursor.fetchone()[0]


def test_a_finished_run_leaves_no_scratch_rows_and_vacuums_them(require_postgres):
    build_book(60)
    before = last_vacuum("segmentation_runrevenue")
    for day in (AS_OF, AS_OF + dt.timedelta(days=1)):
        run = services.reclassification_run(as_of=day, chunk_size=20, followup=False)
        assert run.status == RunStatus.FINISHED
        assert scratch_rows() == 0
        vacuumed = last_vacuum("segmentation_runrevenue")
        assert vacuumed is not None and (before is None or vacuumed > before)
        before = vacuumed
    assert ReclassificationRun.objects.filter(status=RunStatus.FINISHED).count() == 2


def test_no_vacuum_inside_a_transaction(require_postgres):
    with transaction.atomic():
        assert services.vacuum_run_scratch() is False
    assert services.vacuum_run_scratch() is True


def test_a_run_that_wrote_customers_vacuums_and_analyzes_the_customer_table(require_postgres):
    """The list's counts read indexes alone only for all-visible pages, and its searches read
    the trigram indexes' pending entries one by one until a VACUUM: the run ends with one.
    (Whether every page is then all-visible depends on other sessions' snapshots, e.g. an
    autovacuum ANALYZE elsewhere in the database, so it is not asserted.)"""
    build_book(300)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) customers_customer")
    vacuumed, analyzed = last_vacuum("customers_customer"), last_vacuum("customers_customer", "analyze")
    run = services.reclassification_run(as_of=AS_OF, chunk_size=100, followup=False)
    assert run.figures_changed == 300
    assert last_vacuum("customers_customer") > vacuumed
    assert last_vacuum("customers_customer", "analyze") > analyzed

    vacuumed = last_vacuum("customers_customer")
    again = services.reclassification_run(as_of=AS_OF, chunk_size=100, followup=False)
    assert (again.changed, again.figures_changed) == (0, 0)
    assert last_vacuum("customers_customer") == vacuumed  # nothing written, nothing to vacuum
