"""Writes of the dashboards app: the per-run snapshot the dashboard page reads.

``snapshot_take(run=…)`` is meant to be called once at the end of every finished
reclassification run (after ``segmentation.services.reclassification_finish``). Every step is one
set-based ``INSERT … SELECT … GROUP BY`` (no per-customer Python loop), on PostgreSQL and SQLite
alike. Taking the snapshot of a run again replaces it (idempotent).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import ROUND_FLOOR, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from customers.models import Customer
from segmentation.models import ClassChange, ReclassificationRun, RunStatus

from .models import CareDay, ClassFlow, ClassSnapshot, DensityBin, RunSnapshot

# Cells per axis of the revenue × potential density.
BINS = 40
# Share of customers left out at each end when the axes are scaled (they fall into the
# outermost bins), so that a few very large customers do not squeeze everyone into one cell.
AXIS_TAIL = Decimal("0.005")
# Care tasks are summed per day this far around the snapshot day.
CARE_DAYS_BACK = 2 * 366
CARE_DAYS_AHEAD = 400


def _cents(expr: str) -> str:
    return f"CAST(ROUND(({expr}) * 100) AS BIGINT)"


CLASS_SNAPSHOT_SQL = f"""
INSERT INTO dashboards_classsnapshot (snapshot_id, segment, advisor_id, customers, active_customers,
                                      revenue, potential, customers_day_before)
SELECT %s, c.segment, c.advisor_id, COUNT(*),
       SUM(CASE WHEN c.status = 'active' THEN 1 ELSE 0 END),
       COALESCE(SUM({_cents("c.revenue")}), 0) / 100.0,
       COALESCE(SUM({_cents("c.potential")}), 0) / 100.0, COUNT(*)
FROM customers_customer c
GROUP BY c.segment, c.advisor_id
"""


def _bin_sql(column: str) -> str:
    """Bin index 0 … BINS-1 of a money column, computed in whole cents (integer division)."""
    value = _cents(column)
    return (
        f"CASE WHEN {value} < %(lo)s THEN 0 WHEN {value} >= %(hi)s THEN {BINS - 1} "
        f"ELSE ({value} - %(lo)s) * {BINS} / (%(hi)s - %(lo)s) END"
    )


DENSITY_SQL = """
INSERT INTO dashboards_densitybin (snapshot_id, segment, advisor_id, x, y, customers)
SELECT %(snapshot)s, b.segment, b.advisor_id, b.x, b.y, COUNT(*)
FROM (SELECT c.segment, c.advisor_id, {x} AS x, {y} AS y
      FROM customers_customer c WHERE c.segment <> '') b
GROUP BY b.segment, b.advisor_id, b.x, b.y
"""

DENSITY_ALL_SQL = """
INSERT INTO dashboards_densitybin (snapshot_id, segment, advisor_id, x, y, customers, all_advisors)
SELECT snapshot_id, segment, NULL, x, y, SUM(customers), TRUE
FROM dashboards_densitybin WHERE snapshot_id = %s GROUP BY snapshot_id, segment, x, y
"""

CARE_ALL_SQL = """
INSERT INTO dashboards_careday (snapshot_id, date, segment, activity_id, assignee_id, advisor_id, planned, done,
                                skipped, overdue, all_advisors)
SELECT snapshot_id, date, segment, activity_id, assignee_id, NULL, SUM(planned), SUM(done), SUM(skipped),
       SUM(overdue), TRUE
FROM dashboards_careday WHERE snapshot_id = %s GROUP BY snapshot_id, date, segment, activity_id, assignee_id
"""


def _insert_from(table: str, columns: dict[str, str], queryset: QuerySet, *, snapshot_id: int) -> None:
    """INSERT INTO table (snapshot_id, column…) SELECT … FROM (the ORM query), where
    ``columns`` maps each column to the query's output alias."""
    inner, params = queryset.query.sql_with_params()
    quote = connection.ops.quote_name
    cols = ", ".join(quote(c) for c in columns)
    picked = ", ".join(f"q.{quote(alias)}" for alias in columns.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(table)} (snapshot_id, {cols}) SELECT %s, {picked} FROM ({inner}) q",
            [snapshot_id, *params],
        )


NICE_STEPS = [Decimal(v) for v in ("1", "1.5", "2", "2.5", "3", "4", "5", "6", "8", "10")]


def _nice_steps(value: Decimal):
    """1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k from the one just below ``value`` upwards."""
    exponent = value.adjusted() if value > 0 else -2
    while True:
        for step in NICE_STEPS[:-1]:
            yield step.scaleb(exponent)
        exponent += 1


def _axis(field: str, classified: int, threshold: Decimal | None) -> tuple[Decimal, Decimal]:
    """(low, high) of an axis cut into BINS cells of a round width: from the lower tail (or 0)
    to the upper tail, and far enough to show the threshold."""
    base = Customer.objects.exclude(segment="").order_by(field).values_list(field, flat=True)
    tail = int(classified * AXIS_TAIL)
    low_value = base[tail : tail + 1].first() if classified else None
    high_value = base.reverse()[tail : tail + 1].first() if classified else None
    bottom = min(low_value or Decimal("0"), Decimal("0"))
    top = max(high_value or Decimal("0"), (threshold or Decimal("0")) * Decimal("1.25"), Decimal("1"))
    for width in _nice_steps(max((top - bottom) / BINS, Decimal("1"))):
        low = (bottom / width).to_integral_value(rounding=ROUND_FLOOR) * width
        if low + width * BINS >= top:
            return low.quantize(Decimal("0.01")), (low + width * BINS).quantize(Decimal("0.01"))
    raise AssertionError("unreachable")


def _cost_statistics() -> dict:
    """The data-dependent inputs of the service-level cost model (customers, average revenue,
    contracts and gaps per customer of each class), so the dashboard can apply the current
    catalogue and rates to them without scanning the book."""
    from servicelevels.models import CareActivity
    from servicelevels.selectors import class_statistics

    activities = list(CareActivity.objects.filter(active=True).select_related("service_level"))
    return {
        segment: {
            "customers": stats.customers,
            "average_revenue": str(stats.average_revenue),
            "average_contracts": str(stats.average_contracts),
            "average_gaps": {str(key): str(value) for key, value in stats.average_gaps.items()},
        }
        for segment, stats in class_statistics(activities=activities).items()
    }


def _care_days(snapshot: RunSnapshot) -> None:
    from servicelevels.models import CareTask

    day = snapshot.taken_on
    first, last = day - dt.timedelta(days=CARE_DAYS_BACK), day + dt.timedelta(days=CARE_DAYS_AHEAD)
    keys = {
        "k_segment": F("activity__service_level__segment"),
        "k_activity": F("activity"),
        "k_assignee": F("assignee"),
        "k_advisor": F("customer__advisor"),
    }
    columns = {"date": "k_date", "segment": "k_segment", "activity_id": "k_activity"}
    columns |= {"assignee_id": "k_assignee", "advisor_id": "k_advisor"}
    planned = (
        CareTask.objects.exclude(status=CareTask.Status.CANCELLED)
        .filter(due_date__gte=first, due_date__lte=last)
        .values(k_date=F("due_date"), **keys)
        .annotate(
            k_planned=Count("id"),
            k_overdue=Count("id", filter=Q(status=CareTask.Status.OPEN, due_date__lt=day)),
        )
        .order_by()
    )
    _insert_from(
        "dashboards_careday",
        columns | {"planned": "k_planned", "overdue": "k_overdue"},
        planned,
        snapshot_id=snapshot.pk,
    )
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min))
    closed = (
        CareTask.objects.filter(
            status__in=[CareTask.Status.DONE, CareTask.Status.SKIPPED],
            closed_at__gte=start,
            closed_at__lt=end,
        )
        .values(k_date=TruncDate("closed_at"), **keys)
        .annotate(
            k_done=Count("id", filter=Q(status=CareTask.Status.DONE)),
            k_skipped=Count("id", filter=Q(status=CareTask.Status.SKIPPED)),
        )
        .order_by()
    )
    _insert_from(
        "dashboards_careday",
        columns | {"done": "k_done", "skipped": "k_skipped"},
        closed,
        snapshot_id=snapshot.pk,
    )
    with connection.cursor() as cursor:
        cursor.execute(CARE_ALL_SQL, [snapshot.pk])


def _day_before_counts(snapshot: RunSnapshot) -> None:
    """customers_day_before = customers − the net class changes dated on or after the snapshot
    day (those rows can still merge with a manual change today; earlier ones no longer change)."""
    changes = (
        ClassChange.objects.filter(date__gte=snapshot.taken_on)
        .values("old_class", "new_class", "customer__advisor")
        .annotate(n=Count("id"))
        .order_by()
    )
    net: dict[tuple[str, int | None], int] = {}
    for row in changes:
        advisor = row["customer__advisor"]
        net[(row["new_class"], advisor)] = net.get((row["new_class"], advisor), 0) + row["n"]
        net[(row["old_class"], advisor)] = net.get((row["old_class"], advisor), 0) - row["n"]
    if not any(net.values()):
        return
    rows = {(r.segment, r.advisor_id): r for r in snapshot.classes.all()}
    for key, delta in net.items():
        if not delta:
            continue
        row = rows.get(key)
        if row is None:  # nobody in this class now, but some were yesterday
            row = rows[key] = ClassSnapshot(
                snapshot=snapshot,
                segment=key[0],
                advisor_id=key[1],
                customers=0,
                active_customers=0,
                revenue=Decimal("0"),
                potential=Decimal("0"),
                customers_day_before=0,
            )
        row.customers_day_before = row.customers - delta
    ClassSnapshot.objects.bulk_create([r for r in rows.values() if r.pk is None])
    ClassSnapshot.objects.bulk_update(
        [r for r in rows.values() if r.pk is not None], ["customers_day_before"]
    )


@transaction.atomic
def snapshot_take(*, run: ReclassificationRun, now: dt.datetime | None = None) -> RunSnapshot:
    """Takes (or retakes) the dashboard snapshot of a finished run: class counts, revenue and
    potential per class and advisor; the density of the revenue × potential plane; the class
    history per month; care tasks per day; the cost model's statistics. Older snapshots lose
    their bins, flows and care days (their class rows stay, as the run history)."""
    if run.status != RunStatus.FINISHED:
        raise ValueError(f"run {run.pk} is not finished ({run.status})")
    started = time.monotonic()
    RunSnapshot.objects.filter(run=run).delete()
    classified = Customer.objects.exclude(segment="").count()
    revenue_low, revenue_high = _axis("revenue", classified, run.revenue_threshold)
    potential_low, potential_high = _axis("potential", classified, run.potential_threshold)
    now = now or timezone.now()
    snapshot = RunSnapshot.objects.create(
        run=run,
        taken_at=now,
        taken_on=timezone.localdate(now),
        bins=BINS,
        revenue_low=revenue_low,
        revenue_high=revenue_high,
        potential_low=potential_low,
        potential_high=potential_high,
        cost_statistics=_cost_statistics(),
    )
    with connection.cursor() as cursor:
        cursor.execute(CLASS_SNAPSHOT_SQL, [snapshot.pk])
        _density(cursor, snapshot)
        cursor.execute(DENSITY_ALL_SQL, [snapshot.pk])
    _day_before_counts(snapshot)
    flows = (
        ClassChange.objects.values(
            k_month=TruncMonth("date"),
            k_old=F("old_class"),
            k_new=F("new_class"),
            k_advisor=F("customer__advisor"),
        )
        .annotate(k_customers=Count("id"))
        .order_by()
    )
    _insert_from(
        "dashboards_classflow",
        {
            "month": "k_month",
            "old_class": "k_old",
            "new_class": "k_new",
            "advisor_id": "k_advisor",
            "customers": "k_customers",
        },
        flows,
        snapshot_id=snapshot.pk,
    )
    _care_days(snapshot)
    for model in (DensityBin, ClassFlow, CareDay):
        model.objects.exclude(snapshot=snapshot).delete()
    snapshot.seconds = round(time.monotonic() - started, 3)
    snapshot.save(update_fields=["seconds"])
    return snapshot


def _density(cursor, snapshot: RunSnapshot) -> None:
    x = _bin_sql("c.revenue").replace("%(lo)s", "%(rlo)s").replace("%(hi)s", "%(rhi)s")
    y = _bin_sql("c.potential").replace("%(lo)s", "%(plo)s").replace("%(hi)s", "%(phi)s")
    cursor.execute(
        DENSITY_SQL.format(x=x, y=y),
        {
            "snapshot": snapshot.pk,
            "rlo": int(snapshot.revenue_low * 100),
            "rhi": int(snapshot.revenue_high * 100),
            "plo": int(snapshot.potential_low * 100),
            "phi": int(snapshot.potential_high * 100),
        },
    )


def snapshot_ensure(*, run: ReclassificationRun | None) -> RunSnapshot | None:
    """The snapshot of ``run``; taken now if the run has none yet (a run finished before the
    snapshot was wired into the job, or whose snapshot failed)."""
    if run is None:
        return None
    existing = RunSnapshot.objects.filter(run=run).first()
    if existing is not None:
        return existing
    try:
        return snapshot_take(run=run)
    except IntegrityError:  # taken by a concurrent request
        return RunSnapshot.objects.get(run=run)
