"""The dashboard's figures against values computed by hand on the book of `conftest.build_book`
(two reclassification runs with a policy change in between)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from dashboards import selectors, services
from dashboards.selectors import Filters
from segmentation import services as segmentation_services
from segmentation.models import ReclassificationRun, RunStatus
from servicelevels.models import CareTask
from tests.servicelevels.factories import CareTaskFactory

from .conftest import FIRST_RUN, SECOND_RUN, SNAPSHOT_AT

pytestmark = pytest.mark.django_db
D = Decimal


def board(book, *, date_from=FIRST_RUN, date_to=SECOND_RUN, advisor=None, now=SNAPSHOT_AT):
    run = selectors.latest_finished_run()
    snapshot = services.snapshot_ensure(run=run)
    return selectors.dashboard(
        filters=Filters(date_from=date_from, date_to=date_to, advisor=advisor),
        run=run,
        snapshot=snapshot,
        now=now,
    )


def figures(matrix, segment):
    f = matrix.classes[segment]
    return (f.customers, f.revenue, f.revenue_share, f.potential, f.care_cost, f.cost_ratio, f.margin)


# --- class matrix ------------------------------------------------------------------------------


def test_class_matrix_equals_hand_computed_figures(book):
    matrix = board(book).matrix

    # A: a1 (1000 / 500) and o1 (200 / 500); care 75 € × 2; B: b1, b2, c2; C: c1; O: o2, o3.
    assert figures(matrix, "A") == (
        2,
        D("1200.00"),
        D("42.9"),
        D("1000.00"),
        D("150.00"),
        D("12.5"),
        D("1050.00"),
    )
    assert figures(matrix, "B") == (
        3,
        D("1450.00"),
        D("51.8"),
        D("0.00"),
        D("135.00"),
        D("9.3"),
        D("1315.00"),
    )
    assert figures(matrix, "C") == (1, D("100.00"), D("3.6"), D("0.00"), D("0.00"), D("0.0"), D("100.00"))
    assert figures(matrix, "O") == (2, D("50.00"), D("1.8"), D("750.00"), D("90.00"), D("180.0"), D("-40.00"))
    assert (matrix.total.customers, matrix.total.revenue, matrix.total.care_cost) == (
        8,
        D("2800.00"),
        D("375.00"),
    )
    assert [f.over_limit for f in (matrix.classes[s] for s in "ABCO")] == [False, False, False, True]


def test_class_matrix_for_one_advisor(book):
    matrix = board(book, advisor=book.anna).matrix

    # anna advises a1 (A), b1 and c2 (B), o2 (O); f1 is former and unclassified. Her revenue:
    # 1000 + 800 + 200 + 50 = 2050 €.
    assert figures(matrix, "A") == (
        1,
        D("1000.00"),
        D("48.8"),
        D("500.00"),
        D("75.00"),
        D("7.5"),
        D("925.00"),
    )
    assert figures(matrix, "B")[:3] == (2, D("1000.00"), D("48.8"))
    assert figures(matrix, "C")[:2] == (0, D("0.00"))
    assert figures(matrix, "O")[:4] == (1, D("50.00"), D("2.4"), D("400.00"))


def test_class_cells_link_to_the_customer_list_filtered_by_class(book):
    matrix = board(book, advisor=book.anna).matrix

    assert matrix.classes["O"].href == f"/customers/?segment=O&advisor={book.anna.pk}"
    assert [[f.segment for f in row] for row in matrix.grid] == [["A", "B"], ["O", "C"]]


def test_care_cost_follows_the_catalogue_at_once(book):
    from servicelevels.services import care_activity_set_minutes

    care_activity_set_minutes(activity=book.activities["B"], minutes=120)

    assert board(book).matrix.classes["B"].care_cost == D("270.00")  # 90 € × 3


# --- migration ---------------------------------------------------------------------------------


def test_migration_matrix_after_two_runs_with_a_policy_change(book):
    migration = board(book).migration

    assert {cell: n for cell, n in migration.cells.items() if n} == {
        ("A", "A"): 1,
        ("B", "B"): 2,
        ("C", "C"): 1,
        ("C", "B"): 1,  # c2: the lower revenue threshold lifted it
        ("O", "O"): 2,
        ("O", "A"): 1,  # o1
        ("", ""): 1,  # the former customer
    }
    assert migration.row_totals == {"A": 1, "B": 2, "C": 2, "O": 3, "": 1}
    assert migration.column_totals == {"A": 2, "B": 3, "C": 1, "O": 2, "": 1}
    assert (migration.converted, migration.base, migration.conversion_rate) == (1, 3, D("33.3"))


def test_migration_from_before_the_first_run_starts_unclassified(book):
    migration = board(book, date_from=dt.date(2026, 5, 1)).migration

    assert {cell: n for cell, n in migration.cells.items() if n} == {
        ("", "A"): 2,
        ("", "B"): 3,
        ("", "C"): 1,
        ("", "O"): 2,
        ("", ""): 1,
    }
    assert migration.conversion_rate is None


def test_migration_between_the_runs_ends_at_the_first(book):
    migration = board(book, date_from=dt.date(2026, 5, 1), date_to=dt.date(2026, 6, 15)).migration

    assert migration.column_totals == {"A": 1, "B": 2, "C": 2, "O": 3, "": 1}


def test_migration_for_one_advisor(book):
    migration = board(book, advisor=book.anna).migration

    assert {cell: n for cell, n in migration.cells.items() if n} == {
        ("A", "A"): 1,
        ("B", "B"): 1,
        ("C", "B"): 1,
        ("O", "O"): 1,
        ("", ""): 1,
    }


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("O", "A", ["o1"]),
        ("C", "B", ["c2"]),
        ("B", "B", ["b1", "b2"]),
        ("O", "O", ["o2", "o3"]),
        ("A", "B", []),
        ("", "", ["f1"]),
    ],
)
def test_migration_cell_lists_exactly_its_customers(book, old, new, names):
    filters = Filters(date_from=FIRST_RUN, date_to=SECOND_RUN)

    customers = selectors.migration_customers(filters=filters, old=old, new=new)

    assert sorted(customers.values_list("pk", flat=True)) == sorted(book.c[n].pk for n in names)


@pytest.mark.parametrize("with_snapshot", [True, False])
@pytest.mark.parametrize(
    "period",
    [
        (dt.date(2026, 6, 1), SECOND_RUN),
        (dt.date(2026, 5, 1), dt.date(2026, 6, 15)),
        (SECOND_RUN, dt.date(2026, 7, 1)),
    ],
)
def test_every_migration_cell_count_equals_its_drilldown(book, with_snapshot, period):
    filters = Filters(date_from=period[0], date_to=period[1])
    snapshot = services.snapshot_ensure(run=book.second_run) if with_snapshot else None
    migration = selectors.migration(filters=filters, snapshot=snapshot)

    for old in selectors.MATRIX_CLASSES:
        for new in selectors.MATRIX_CLASSES:
            listed = selectors.migration_customers(filters=filters, old=old, new=new).count()
            assert listed == migration.cells.get((old, new), 0), (old, new)


def test_a_manual_override_after_the_snapshot_shows_in_the_migration(book):
    day = SNAPSHOT_AT.date()  # the override is made on the day the snapshot was taken, after it
    segmentation_services.class_override_set(
        customer=book.c["c1"],
        segment="A",
        reason="Schlüsselkunde",
        expires_on=dt.date(2027, 12, 31),
        by=None,
        today=day,
    )

    migration = board(book, date_to=day).migration

    assert migration.cells[("C", "A")] == 1
    assert migration.cells.get(("C", "C"), 0) == 0


def test_an_override_merged_into_the_runs_history_row_after_the_snapshot_is_counted_once(book):
    evening = timezone.make_aware(dt.datetime(2026, 6, 30, 18, 0))
    services.snapshot_take(run=book.second_run, now=evening)  # taken on the run's day
    segmentation_services.class_override_set(  # o1 went O→A in the run; the owner pins B that day
        customer=book.c["o1"],
        segment="B",
        reason="Empfehlungsgeber",
        expires_on=dt.date(2027, 1, 31),
        by=None,
        today=SECOND_RUN,
    )

    migration = board(book, now=evening).migration

    assert migration.cells.get(("O", "A"), 0) == 0 and migration.cells[("O", "B")] == 1
    assert migration.column_totals == {"A": 1, "B": 4, "C": 1, "O": 2, "": 1}
    assert selectors.migration_customers(filters=migration_filters(), old="O", new="B").get() == book.c["o1"]


def migration_filters():
    return Filters(date_from=FIRST_RUN, date_to=SECOND_RUN)


# --- class counts over time --------------------------------------------------------------------


def test_class_counts_at_the_end_of_each_month_from_the_history(book):
    over_time = board(book, date_from=dt.date(2026, 4, 1)).over_time

    rows = {row["month"]: [row[s] for s in "ABCO"] for row in over_time.table.rows}
    assert len(rows) == 12  # at least a year
    assert rows["04.2026"] == [0, 0, 0, 0]
    assert rows["05.2026"] == [1, 2, 2, 3]
    assert rows["06.2026"] == [2, 3, 1, 2]
    assert over_time.chart["series"]["A"][-2:] == [1, 2]


# --- revenue × potential -----------------------------------------------------------------------


def test_small_book_is_a_scatter_of_every_classified_customer(book):
    chart = board(book).chart

    assert chart.mode == "scatter"
    points = {p[3]: p[:3] for p in chart.chart["points"]}
    assert points[book.c["o1"].pk] == [200.0, 500.0, "A"]
    assert book.c["f1"].pk not in points
    assert chart.chart["thresholds"] == {"revenue": 150.0, "potential": 300.0}
    assert [row["customers"] for row in chart.summary.rows] == [2, 3, 1, 2]


def test_large_book_is_a_density_whose_cells_list_their_customers(book, monkeypatch):
    monkeypatch.setattr(selectors, "SCATTER_LIMIT", 3)
    result = board(book)
    snapshot = result.snapshot

    assert result.chart.mode == "density"
    bins = result.chart.chart["bins"]
    assert sum(b[3] for b in bins) == 8
    for x, y, segment, count in bins:
        customers = selectors.bin_customers(
            snapshot=snapshot, segment=segment, x=x, y=y, filters=result.filters
        )
        assert customers.count() == count
        for c in customers:
            low_r, high_r = snapshot.bin_range("revenue", x)
            assert x == 0 or c.revenue >= low_r
            assert x == snapshot.bins - 1 or c.revenue < high_r


def test_density_axes_reach_past_the_thresholds(book):
    snapshot = board(book).snapshot

    assert snapshot.revenue_low == 0 and snapshot.revenue_high >= D("1000")
    assert snapshot.potential_high >= D("500")


# --- care work ---------------------------------------------------------------------------------


def closed(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))


def test_care_work_by_class_activity_and_person(book):
    a, b, o = book.activities["A"], book.activities["B"], book.activities["O"]
    c, owner, anna = book.c, book.owner, book.anna
    done, skipped, cancelled = CareTask.Status.DONE, CareTask.Status.SKIPPED, CareTask.Status.CANCELLED
    CareTaskFactory(
        customer=c["a1"],
        activity=a,
        due_date=dt.date(2026, 6, 10),
        assignee=owner,
        status=done,
        closed_at=closed(dt.date(2026, 6, 12)),
    )
    CareTaskFactory(customer=c["b1"], activity=b, due_date=dt.date(2026, 6, 5), assignee=anna)  # overdue
    CareTaskFactory(
        customer=c["o2"],
        activity=o,
        due_date=dt.date(2026, 6, 20),
        assignee=anna,
        status=skipped,
        closed_at=closed(dt.date(2026, 6, 21)),
    )
    CareTaskFactory(customer=c["b2"], activity=b, due_date=dt.date(2026, 7, 15), assignee=anna)  # after June
    CareTaskFactory(
        customer=c["c2"],
        activity=b,
        due_date=dt.date(2026, 6, 15),
        assignee=anna,
        status=cancelled,
        closed_at=closed(dt.date(2026, 6, 30)),
    )
    CareTaskFactory(  # due in May, done in June
        customer=c["b2"],
        activity=b,
        due_date=dt.date(2026, 5, 20),
        assignee=anna,
        status=done,
        closed_at=closed(dt.date(2026, 6, 2)),
    )
    services.snapshot_take(run=book.second_run, now=SNAPSHOT_AT)

    care = board(book, date_from=dt.date(2026, 6, 1), date_to=SECOND_RUN).care

    keys = ("planned", "done", "skipped", "overdue")
    by_class = {row["segment"]: tuple(row[k] for k in keys) for row in care.by_class.rows}
    assert by_class == {"A": (1, 1, 0, 0), "B": (1, 1, 0, 1), "C": (0, 0, 0, 0), "O": (1, 0, 1, 0)}
    by_activity = {row["activity"]: tuple(row[k] for k in keys) for row in care.by_activity.rows}
    assert by_activity == {
        "Geburtstag": (1, 1, 0, 0),
        "Jahresgespräch": (1, 1, 0, 1),
        "Bedarfsanalyse": (1, 0, 1, 0),
    }
    by_person = {row["person"]: tuple(row[k] for k in keys) for row in care.by_person.rows}
    assert by_person == {str(owner): (1, 1, 0, 0), "Anna Arndt": (2, 1, 1, 1)}
    assert care.by_class.total["done_rate"] == D("66.7")


# --- nightly run -------------------------------------------------------------------------------


def test_nightly_run_shows_the_last_run_and_its_transitions(book):
    nightly = board(book, now=book.second_run.finished_at + dt.timedelta(hours=2)).nightly

    assert nightly.last == book.second_run
    assert not nightly.stale
    assert {(r["old"], r["new"], r["customers"]) for r in nightly.transitions.rows} == {
        ("C", "B", 1),
        ("O", "A", 1),
    }
    assert len(nightly.runs.rows) == 2


def test_warning_when_the_last_successful_run_is_older_than_26_hours(book):
    finished = book.second_run.finished_at

    assert not board(book, now=finished + dt.timedelta(hours=25, minutes=59)).nightly.stale
    assert board(book, now=finished + dt.timedelta(hours=26, minutes=1)).nightly.stale


def test_a_failed_last_run_is_shown_with_its_errors(book):
    failed = ReclassificationRun.objects.create(
        as_of=dt.date(2026, 7, 1),
        status=RunStatus.FAILED,
        policy=book.second_run.policy,
        started_at=timezone.now(),
        window_start=dt.date(2025, 7, 1),
        chunk_size=10,
        errors="OperationalError: boom",
    )

    nightly = board(book).nightly

    assert nightly.last == failed and nightly.last.errors == "OperationalError: boom"
    assert nightly.last_success == book.second_run


def test_no_run_yet_is_stale_and_empty(db):
    result = selectors.dashboard(
        filters=Filters(date_from=FIRST_RUN, date_to=SECOND_RUN), run=None, snapshot=None, now=SNAPSHOT_AT
    )

    assert result.nightly.stale and result.nightly.last is None
    assert result.matrix.total.customers == 0
    assert result.chart.mode == "empty"
