"""snapshot_take: the per-run aggregates behind the dashboard."""

import datetime as dt

import pytest
from django.utils import timezone

from dashboards import services
from dashboards.models import CareDay, ClassFlow, DensityBin, RunSnapshot

pytestmark = pytest.mark.django_db


def test_snapshot_take_is_idempotent(book):
    first = RunSnapshot.objects.get(run=book.second_run)
    rows = list(
        first.classes.values_list("segment", "advisor", "customers", "revenue").order_by("segment", "advisor")
    )

    again = services.snapshot_take(run=book.second_run)

    assert RunSnapshot.objects.filter(run=book.second_run).count() == 1
    assert (
        list(
            again.classes.values_list("segment", "advisor", "customers", "revenue").order_by(
                "segment", "advisor"
            )
        )
        == rows
    )
    assert again.flows.count() > 0 and not RunSnapshot.objects.get(run=book.first_run).flows.exists()


def test_snapshot_of_an_unfinished_run_is_refused(book):
    book.second_run.status = "running"

    with pytest.raises(ValueError):
        services.snapshot_take(run=book.second_run)


def test_snapshot_sums_match_the_book(book):
    snapshot = RunSnapshot.objects.get(run=book.second_run)

    by_class = {}
    for row in snapshot.classes.all():
        by_class[row.segment] = by_class.get(row.segment, 0) + row.customers
    assert by_class == {"A": 2, "B": 3, "C": 1, "O": 2, "": 1}
    for all_advisors in (True, False):
        bins = DensityBin.objects.filter(snapshot=snapshot, all_advisors=all_advisors)
        assert sum(b.customers for b in bins) == 8
    flows: dict[tuple, int] = {}
    for f in ClassFlow.objects.filter(snapshot=snapshot):  # summed over advisors
        key = (f.month.isoformat(), f.old_class, f.new_class)
        flows[key] = flows.get(key, 0) + f.customers
    assert flows[("2026-06-01", "O", "A")] == 1 and flows[("2026-05-01", "", "O")] == 3
    # The run plans care tasks (brokercrm.jobs), and the snapshot counts them per day.
    from servicelevels.models import CareTask

    assert CareTask.objects.exists()
    assert CareDay.objects.filter(snapshot=snapshot).exists()


def test_day_before_counts_leave_out_the_changes_of_the_snapshot_day(book):
    evening = timezone.make_aware(dt.datetime(2026, 6, 30, 18, 0))

    snapshot = services.snapshot_take(run=book.second_run, now=evening)

    before: dict[str, int] = {}
    for row in snapshot.classes.all():
        before[row.segment] = before.get(row.segment, 0) + row.customers_day_before
    assert before == {"A": 1, "B": 2, "C": 2, "O": 3, "": 1}  # the classes after run 1


def test_only_the_latest_snapshot_keeps_bins_flows_and_care_days(book):
    older = RunSnapshot.objects.get(run=book.first_run)

    assert older.classes.exists()
    assert not older.bins_set.exists() and not older.flows.exists()
