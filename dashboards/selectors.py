"""Reads of the owner's dashboards. Each section is a fixed number of queries, whatever the size
of the book: the class matrix, the revenue × potential density, the class counts over time and
the care work read the aggregates of the latest run's snapshot (`models`); the migration matrix
reads the class history of the chosen dates; the nightly run reads the run records.

Definitions (the figures the tests check by hand):

- Customers of a class: every customer whose stored class is that class (any status; former
  customers are not classified). Revenue / potential: sums of the stored figures.
- Revenue share: the class's revenue over the revenue of all four classes.
- Yearly care cost of a class: the service-level cost model's yearly cost per customer (current
  catalogue and hourly rates, applied to the statistics of the snapshot) × the class's ACTIVE
  customers (care is planned for active customers only). Ratio = care cost / revenue; margin =
  revenue − care cost.
- Class at a date D: the class in force at the end of D, i.e. the old class of the customer's
  first history row after D, or the stored class when there is none.
- Migration matrix D1 → D2: customers by (class at D1, class at D2). Only customers with history
  rows in (D1, D2] can differ (read from those rows alone); the diagonal is the count at D2 minus
  those who moved in. The count at D2 is the snapshot's count at the end of the day before it
  was taken, moved by the history rows between that day and D2 — rows of earlier days never
  change, so the figures are exact and include manual overrides made after the snapshot.
  O→A/B conversion: the customers in O at D1 that are in A or B at D2, over all in O at D1.
- Class counts over time: the class counts of the snapshot, minus the history's net changes
  after the end of each month.
- Care work in a period: planned = tasks due in the period (not cancelled); done / skipped =
  tasks closed so in the period; overdue = tasks due in the period and still open on the
  snapshot day after their due date. Class = the class of the task's activity.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from brokercrm.accounts.models import User
from customers.models import Customer
from segmentation.models import ClassChange, ReclassificationRun, RunStatus, SegmentationPolicy
from segmentation.services import months_before

from . import tables as t
from .models import CareDay, ClassFlow, ClassSnapshot, DensityBin, RunSnapshot

CLASSES = ["A", "B", "C", "O"]
# Rows and columns of the migration matrix: the four classes and "not classified".
MATRIX_CLASSES = [*CLASSES, ""]
UNCLASSIFIED = "-"  # URL token for "not classified"
# Up to this many classified customers the chart shows every customer; above, the density.
SCATTER_LIMIT = 1000
STALE_AFTER = dt.timedelta(hours=26)
RECENT_RUNS = 10
MIN_MONTHS = 12
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Filters:
    date_from: dt.date
    date_to: dt.date
    advisor: User | None = None

    @property
    def advisor_id(self) -> int | None:
        return self.advisor.pk if self.advisor else None

    def query(self, **extra: Any) -> str:
        params = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.advisor:
            params["advisor"] = self.advisor.pk
        params.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(params)


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    return months_before(today, 1), today


def class_token(segment: str) -> str:
    return segment or UNCLASSIFIED


def class_from_token(token: str) -> str:
    return "" if token == UNCLASSIFIED else token


def _percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole or whole <= 0:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(Decimal("0.1"))


def _money(value: Decimal | None) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def _customer_list_url(segment: str, advisor_id: int | None) -> str:
    params: dict[str, Any] = {"segment": segment or "none"}
    if advisor_id:
        params["advisor"] = advisor_id
    return f"{reverse('customers:list')}?{urlencode(params)}"


def _listed(restricted: bool = False) -> QuerySet[Customer]:
    """The customers a list of the dashboards may show: never those restricted after an erasure
    request (Art. 18 DSGVO). ``restricted=True`` gives the others, only to count them (the
    drill-down says how many of a cell's customers it leaves out). The aggregates (counts,
    sums, the snapshot) include restricted customers: they are figures without personal data,
    and a cell's count must agree with the class history and the Courtage ledger."""
    return Customer.objects.restricted() if restricted else Customer.objects.usable()


def _by_advisor(queryset: QuerySet, advisor_id: int | None, field_name: str = "advisor") -> QuerySet:
    return queryset.filter(**{field_name: advisor_id}) if advisor_id else queryset


def latest_finished_run() -> ReclassificationRun | None:
    return (
        ReclassificationRun.objects.filter(status=RunStatus.FINISHED)
        .select_related("policy")
        .order_by("-finished_at", "-id")
        .first()
    )


# --- class matrix ------------------------------------------------------------------------------


@dataclass
class ClassFigures:
    segment: str
    customers: int = 0
    active_customers: int = 0
    revenue: Decimal = Decimal("0")
    potential: Decimal = Decimal("0")
    revenue_share: Decimal | None = None
    cost_per_customer: Decimal = Decimal("0")
    care_cost: Decimal = Decimal("0")
    cost_ratio: Decimal | None = None
    margin: Decimal = Decimal("0")
    over_limit: bool = False
    href: str = ""


@dataclass
class ClassMatrix:
    classes: dict[str, ClassFigures]
    total: ClassFigures
    max_cost_share: Decimal
    table: t.Table

    @property
    def grid(self) -> list[list[ClassFigures]]:
        """Rows of the 2×2 matrix: high revenue (A, B) above, low revenue (O, C) below."""
        return [[self.classes["A"], self.classes["B"]], [self.classes["O"], self.classes["C"]]]


def _class_totals(snapshot: RunSnapshot | None, advisor_id: int | None) -> dict[str, dict[str, Any]]:
    """Per class (and "" = not classified): customers, active customers, revenue, potential."""
    if snapshot is None:
        return {}
    rows = (
        _by_advisor(ClassSnapshot.objects.filter(snapshot=snapshot), advisor_id)
        .values("segment")
        .annotate(
            n=Sum("customers"),
            before=Sum("customers_day_before"),
            active=Sum("active_customers"),
            revenue_sum=Sum("revenue"),
            potential_sum=Sum("potential"),
        )
        .order_by()
    )
    return {row["segment"]: row for row in rows}


def _cost_per_customer(snapshot: RunSnapshot | None) -> tuple[dict[str, Any], Decimal]:
    """The service-level cost model per class (current catalogue and rates, the snapshot's
    statistics): {class: ClassCost}, and the healthy share of revenue in percent."""
    from servicelevels import costs
    from servicelevels.models import CareActivity, CostSettings, ServiceLevel

    settings = CostSettings.load()
    levels = list(ServiceLevel.objects.all())
    activities = defaultdict(list)
    for activity in CareActivity.objects.select_related("service_level").order_by("position", "id"):
        activities[activity.service_level_id].append(activity)
    stored = snapshot.cost_statistics if snapshot else {}
    result = {}
    for level in levels:
        raw = stored.get(level.segment, {})
        stats = costs.ClassStatistics(
            segment=level.segment,
            customers=int(raw.get("customers", 0)),
            average_revenue=Decimal(raw.get("average_revenue", "0")),
            average_contracts=Decimal(raw.get("average_contracts", "0")),
            average_gaps={int(k): Decimal(v) for k, v in raw.get("average_gaps", {}).items()},
        )
        result[level.segment] = costs.class_cost(
            level=level, activities=activities[level.pk], stats=stats, settings=settings
        )
    return result, settings.max_cost_share


def class_matrix(*, snapshot: RunSnapshot | None, filters: Filters) -> ClassMatrix:
    totals = _class_totals(snapshot, filters.advisor_id)
    cost_model, max_share = _cost_per_customer(snapshot)
    classes = {}
    for segment in CLASSES:
        row = totals.get(segment, {})
        figures = ClassFigures(
            segment=segment,
            customers=row.get("n") or 0,
            active_customers=row.get("active") or 0,
            revenue=_money(row.get("revenue_sum")),
            potential=_money(row.get("potential_sum")),
            href=_customer_list_url(segment, filters.advisor_id),
        )
        cost = cost_model.get(segment)
        figures.cost_per_customer = cost.total_cost if cost else Decimal("0")
        figures.care_cost = (figures.cost_per_customer * figures.active_customers).quantize(CENT)
        figures.margin = figures.revenue - figures.care_cost
        figures.cost_ratio = _percent(figures.care_cost, figures.revenue)
        if figures.cost_ratio is None:
            figures.over_limit = figures.care_cost > 0
        else:
            figures.over_limit = figures.cost_ratio > max_share
        classes[segment] = figures
    total = ClassFigures(segment="")
    for figures in classes.values():
        total.customers += figures.customers
        total.active_customers += figures.active_customers
        total.revenue += figures.revenue
        total.potential += figures.potential
        total.care_cost += figures.care_cost
    total.margin = total.revenue - total.care_cost
    total.cost_ratio = _percent(total.care_cost, total.revenue)
    total.revenue_share = Decimal("100.0") if total.revenue > 0 else None
    for figures in classes.values():
        figures.revenue_share = _percent(figures.revenue, total.revenue)
    table = t.Table(
        name="classes",
        caption=_("Class matrix"),
        columns=[
            t.Column("segment", _("Class"), t.CLASS),
            t.Column("customers", _("Customers"), t.INT),
            t.Column("revenue", _("Revenue"), t.MONEY),
            t.Column("revenue_share", _("Revenue share"), t.PERCENT),
            t.Column("potential", _("Potential"), t.MONEY),
            t.Column("active_customers", _("Active customers"), t.INT),
            t.Column("cost_per_customer", _("Care cost per customer and year"), t.MONEY),
            t.Column("care_cost", _("Yearly care cost"), t.MONEY),
            t.Column("cost_ratio", _("Care cost / revenue"), t.PERCENT),
            t.Column("margin", _("Margin"), t.MONEY),
        ],
    )
    for figures in classes.values():
        table.add(
            {c.key: getattr(figures, c.key) for c in table.columns},
            {"segment": figures.href, "customers": figures.href},
        )
    table.total = {c.key: getattr(total, c.key) for c in table.columns if c.key != "cost_per_customer"}
    table.total["segment"] = _("Total")
    return ClassMatrix(classes=classes, total=total, max_cost_share=max_share, table=table)


# --- revenue × potential -----------------------------------------------------------------------


@dataclass
class RevenuePotential:
    mode: str  # "scatter" | "density" | "empty"
    chart: dict[str, Any]
    summary: t.Table
    thresholds: t.Table


def _display_name(row: dict[str, Any]) -> str:
    if row["kind"] == Customer.Kind.COMPANY or not row["first_name"]:
        return row["name"]
    return f"{row['name']}, {row['first_name']}"


def scatter_points(*, filters: Filters, limit: int = SCATTER_LIMIT) -> list[dict[str, Any]]:
    rows = (
        _by_advisor(_listed().exclude(segment=""), filters.advisor_id)
        .order_by("id")
        .values("id", "number", "name", "first_name", "kind", "revenue", "potential", "segment")[:limit]
    )
    return [
        {
            "id": row["id"],
            "number": row["number"],
            "name": _display_name(row),
            "segment": row["segment"],
            "revenue": row["revenue"],
            "potential": row["potential"],
        }
        for row in rows
    ]


def density_bins(*, snapshot: RunSnapshot, filters: Filters) -> list[dict[str, Any]]:
    rows = (
        _by_advisor(
            DensityBin.objects.filter(snapshot=snapshot, all_advisors=not filters.advisor_id),
            filters.advisor_id,
        )
        .values("segment", "x", "y")
        .annotate(n=Sum("customers"))
        .order_by("segment", "x", "y")
    )
    return list(rows)


def _thresholds_table(run: ReclassificationRun | None, policy: SegmentationPolicy | None) -> t.Table:
    table = t.Table(
        name="thresholds",
        caption=_("Thresholds"),
        columns=[
            t.Column("dimension", _("Dimension")),
            t.Column("base", _("Threshold of the last run"), t.MONEY),
            t.Column("stay", _("Stays high from"), t.MONEY),
            t.Column("enter", _("Becomes high from"), t.MONEY),
        ],
    )
    if run is None:
        return table
    for key, label in (("revenue", _("Revenue")), ("potential", _("Potential"))):
        bands = run.bands(key) or {}
        table.add({"dimension": label, **bands})
    if policy is not None:
        table.note = _("Policy version %(version)s; the last run used version %(run_version)s.") % {
            "version": policy.version,
            "run_version": run.policy.version,
        }
    return table


def revenue_potential(
    *,
    snapshot: RunSnapshot | None,
    run: ReclassificationRun | None,
    policy: SegmentationPolicy | None,
    classified: int,
    filters: Filters,
) -> RevenuePotential:
    chart: dict[str, Any] = {
        "thresholds": {
            "revenue": float(run.revenue_threshold) if run and run.revenue_threshold is not None else None,
            "potential": float(run.potential_threshold)
            if run and run.potential_threshold is not None
            else None,
        },
        "classes": CLASSES,
    }
    summary = t.Table(
        name="chart_classes",
        caption=_("Customers in the chart"),
        columns=[t.Column("segment", _("Class"), t.CLASS), t.Column("customers", _("Customers"), t.INT)],
    )
    counts: dict[str, int] = defaultdict(int)
    if snapshot is None and classified == 0:
        mode = "empty"
    elif classified <= SCATTER_LIMIT or snapshot is None:
        mode = "scatter"
        points = scatter_points(filters=filters)
        chart["customer_url"] = reverse("customers:detail", args=[0])
        chart["points"] = [
            [
                float(p["revenue"]),
                float(p["potential"]),
                p["segment"],
                p["id"],
                f"{p['name']} ({p['number']})",
            ]
            for p in points
        ]
        for p in points:
            counts[p["segment"]] += 1
    else:
        mode = "density"
        bins = density_bins(snapshot=snapshot, filters=filters)
        chart["axes"] = {
            "bins": snapshot.bins,
            "revenue": [float(snapshot.revenue_low), float(snapshot.revenue_high)],
            "potential": [float(snapshot.potential_low), float(snapshot.potential_high)],
        }
        chart["bin_url"] = f"{reverse('dashboards:bin_customers')}?{filters.query(snapshot=snapshot.pk)}"
        chart["bins"] = [[b["x"], b["y"], b["segment"], b["n"]] for b in bins]
        for b in bins:
            counts[b["segment"]] += b["n"]
    chart["mode"] = mode
    for segment in CLASSES:
        summary.add({"segment": segment, "customers": counts[segment]})
    return RevenuePotential(
        mode=mode, chart=chart, summary=summary, thresholds=_thresholds_table(run, policy)
    )


def points_table(*, snapshot: RunSnapshot | None, classified: int, filters: Filters) -> t.Table:
    """The revenue × potential chart as a table: every customer (small books) or every cell of
    the density with its ranges and count (large books)."""
    if snapshot is None or classified <= SCATTER_LIMIT:
        table = t.Table(
            name="points",
            caption=_("Revenue and potential per customer"),
            columns=[
                t.Column("number", _("Customer number")),
                t.Column("name", _("Customer")),
                t.Column("segment", _("Class"), t.CLASS),
                t.Column("revenue", _("Revenue"), t.MONEY),
                t.Column("potential", _("Potential"), t.MONEY),
            ],
        )
        for p in scatter_points(filters=filters):
            href = reverse("customers:detail", args=[p["id"]])
            table.add(
                {k: p[k] for k in ("number", "name", "segment", "revenue", "potential")}, {"name": href}
            )
        return table
    table = t.Table(
        name="points",
        caption=_("Customers per cell of revenue and potential"),
        columns=[
            t.Column("segment", _("Class"), t.CLASS),
            t.Column("revenue_from", _("Revenue from"), t.MONEY),
            t.Column("revenue_to", _("Revenue below"), t.MONEY),
            t.Column("potential_from", _("Potential from"), t.MONEY),
            t.Column("potential_to", _("Potential below"), t.MONEY),
            t.Column("customers", _("Customers"), t.INT),
        ],
        note=_("The first cell of an axis also holds smaller values, the last one larger values."),
    )
    base = reverse("dashboards:bin_customers")
    for b in density_bins(snapshot=snapshot, filters=filters):
        r_from, r_to = snapshot.bin_range("revenue", b["x"])
        p_from, p_to = snapshot.bin_range("potential", b["y"])
        href = f"{base}?{filters.query(snapshot=snapshot.pk, segment=b['segment'], x=b['x'], y=b['y'])}"
        table.add(
            {
                "segment": b["segment"],
                "revenue_from": r_from,
                "revenue_to": r_to,
                "potential_from": p_from,
                "potential_to": p_to,
                "customers": b["n"],
            },
            {"customers": href},
        )
    return table


# --- class counts over time --------------------------------------------------------------------


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass
class TimeSeries:
    chart: dict[str, Any]
    table: t.Table


def class_counts_over_time(
    *,
    snapshot: RunSnapshot | None,
    as_of: dt.date | None,
    totals: dict[str, dict[str, Any]],
    filters: Filters,
) -> TimeSeries:
    """Class counts at the end of every month from the period's start (at least MIN_MONTHS
    back) to its end, and at most to the snapshot's run."""
    table = t.Table(
        name="over_time",
        caption=_("Class counts at the end of each month"),
        columns=[t.Column("month", _("Month")), *(t.Column(s, s, t.INT) for s in CLASSES)],
    )
    if snapshot is None or as_of is None:
        return TimeSeries(chart={"labels": [], "series": {}}, table=table)
    last = _month_start(min(filters.date_to, as_of))
    first = min(_month_start(filters.date_from), _month_start(months_before(last, MIN_MONTHS - 1)))
    flows = (
        _by_advisor(ClassFlow.objects.filter(snapshot=snapshot, month__gt=first), filters.advisor_id)
        .values("month", "old_class", "new_class")
        .annotate(n=Sum("customers"))
        .order_by()
    )
    # net[month][class]: how the class count changed in that month
    net: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in flows:
        net[row["month"]][row["new_class"]] += row["n"]
        net[row["month"]][row["old_class"]] -= row["n"]
    current = {s: (totals.get(s, {}).get("n") or 0) for s in CLASSES}
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = _next_month(month)
    # counts at the end of month M = counts now − net changes of the months after M
    after: dict[str, int] = defaultdict(int)
    for month in sorted(net):
        if month > last:
            for s in CLASSES:
                after[s] += net[month][s]
    counts_by_month = {}
    for month in reversed(months):
        counts_by_month[month] = {s: current[s] - after[s] for s in CLASSES}
        for s in CLASSES:
            after[s] += net.get(month, {}).get(s, 0)
    for month in months:
        table.add({"month": f"{month:%m.%Y}", **counts_by_month[month]})
    chart = {
        "labels": [f"{m:%m.%Y}" for m in months],
        "series": {s: [counts_by_month[m][s] for m in months] for s in CLASSES},
    }
    return TimeSeries(chart=chart, table=table)


# --- migration matrix --------------------------------------------------------------------------


def class_at(day: dt.date) -> Coalesce:
    """The class in force at the end of ``day`` (annotation on Customer)."""
    first_after = ClassChange.objects.filter(customer=OuterRef("pk"), date__gt=day).order_by("date", "id")
    return Coalesce(Subquery(first_after.values("old_class")[:1]), F("segment"))


def _changes_between(first: dt.date, last: dt.date) -> QuerySet:
    return ClassChange.objects.filter(date__gt=first, date__lte=last)


@dataclass
class Migration:
    date_from: dt.date
    date_to: dt.date
    cells: dict[tuple[str, str], int]
    row_totals: dict[str, int]
    column_totals: dict[str, int]
    table: t.Table
    conversion: t.Table
    conversion_rate: Decimal | None
    converted: int
    base: int
    conversion_href: dict[str, str]


# Customers with history rows in (D1, D2], by the class before their first row and after their
# last row there (each row's old class is the class before it: the history is a chain). Reads
# only the rows of the period (index on date), sorted per customer by window functions.
MOVERS_SQL = """
SELECT w.then_class, w.now_class, COUNT(*)
FROM (
    SELECT h.customer_id,
           FIRST_VALUE(h.old_class) OVER (PARTITION BY h.customer_id ORDER BY h.date) AS then_class,
           FIRST_VALUE(h.new_class) OVER (PARTITION BY h.customer_id ORDER BY h.date DESC) AS now_class,
           ROW_NUMBER() OVER (PARTITION BY h.customer_id ORDER BY h.date) AS position
    FROM segmentation_classchange h
    WHERE h.date > %(d1)s AND h.date <= %(d2)s
) w
{advisor_join}
WHERE w.position = 1
GROUP BY w.then_class, w.now_class
"""


def _movers(filters: Filters) -> dict[tuple[str, str], int]:
    advisor_join = ""
    params: dict[str, Any] = {"d1": filters.date_from, "d2": filters.date_to}
    if filters.advisor_id:
        advisor_join = "JOIN customers_customer c ON c.id = w.customer_id AND c.advisor_id = %(advisor)s"
        params["advisor"] = filters.advisor_id
    with connection.cursor() as cursor:
        cursor.execute(MOVERS_SQL.format(advisor_join=advisor_join), params)
        return {(old, new): int(n) for old, new, n in cursor.fetchall() if old != new}


def _net(changes: QuerySet) -> dict[str, int]:
    """How the class counts change over these history rows."""
    net: dict[str, int] = defaultdict(int)
    for row in changes.values("old_class", "new_class").annotate(n=Count("id")).order_by():
        net[row["new_class"]] += row["n"]
        net[row["old_class"]] -= row["n"]
    return net


def class_counts_at(*, day: dt.date, snapshot: RunSnapshot | None, advisor_id: int | None) -> dict[str, int]:
    """Customers per class at the end of ``day``: the snapshot's counts at the end of the day
    before it was taken, moved by the history rows between then and ``day`` (two queries, and
    both read few rows unless a mass change lies in between). Without a snapshot, the stored
    classes moved back by the history after ``day``."""
    changes = _by_advisor(ClassChange.objects.all(), advisor_id, "customer__advisor")
    counts: dict[str, int] = defaultdict(int)
    if snapshot is None:
        for row in (
            _by_advisor(Customer.objects.all(), advisor_id)
            .values("segment")
            .annotate(n=Count("*"))
            .order_by()
        ):
            counts[row["segment"]] += row["n"]
        for segment, delta in _net(changes.filter(date__gt=day)).items():
            counts[segment] -= delta
        return dict(counts)
    for segment, row in _class_totals(snapshot, advisor_id).items():
        counts[segment] += row["before"] or 0
    start = snapshot.taken_on
    if day >= start:
        for segment, delta in _net(changes.filter(date__gte=start, date__lte=day)).items():
            counts[segment] += delta
    else:
        for segment, delta in _net(changes.filter(date__gt=day, date__lt=start)).items():
            counts[segment] -= delta
    return dict(counts)


def migration_counts(
    *, filters: Filters, snapshot: RunSnapshot | None = None
) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """{(class at D1, class at D2): customers} and the counts per class at D2. Customers without
    history rows in (D1, D2] kept their class, so the movers come from those rows alone and the
    diagonal is the count at D2 minus the movers into each class."""
    cells: dict[tuple[str, str], int] = defaultdict(int, _movers(filters))
    at_d2 = class_counts_at(day=filters.date_to, snapshot=snapshot, advisor_id=filters.advisor_id)
    for segment in MATRIX_CLASSES:
        moved_in = sum(n for (old, new), n in cells.items() if new == segment and old != segment)
        stayed = at_d2.get(segment, 0) - moved_in
        if stayed:
            cells[(segment, segment)] = stayed
    return dict(cells), at_d2


def migration_url(filters: Filters, old: str, new: str) -> str:
    return f"{reverse('dashboards:migration_customers')}?{filters.query(old=class_token(old), new=class_token(new))}"


def migration(*, filters: Filters, snapshot: RunSnapshot | None = None) -> Migration:
    cells, _at_d2 = migration_counts(filters=filters, snapshot=snapshot)
    row_totals = {old: sum(cells.get((old, new), 0) for new in MATRIX_CLASSES) for old in MATRIX_CLASSES}
    column_totals = {new: sum(cells.get((old, new), 0) for old in MATRIX_CLASSES) for new in MATRIX_CLASSES}
    label = {s: (s or _("not classified")) for s in MATRIX_CLASSES}
    table = t.Table(
        name="migration",
        caption=_("Customers by class on %(from)s (rows) and on %(to)s (columns)")
        % {"from": filters.date_from.strftime("%d.%m.%Y"), "to": filters.date_to.strftime("%d.%m.%Y")},
        columns=[
            t.Column("then", _("Class then")),
            *(t.Column(f"to_{class_token(s)}", label[s], t.INT) for s in MATRIX_CLASSES),
            t.Column("total", _("Total"), t.INT),
        ],
    )
    for old in MATRIX_CLASSES:
        row: dict[str, Any] = {"then": label[old], "total": row_totals[old]}
        links = {}
        for new in MATRIX_CLASSES:
            key = f"to_{class_token(new)}"
            row[key] = cells.get((old, new), 0)
            if row[key]:
                links[key] = migration_url(filters, old, new)
        table.add(row, links)
    table.total = {
        "then": _("Total"),
        **{f"to_{class_token(s)}": column_totals[s] for s in MATRIX_CLASSES},
        "total": sum(row_totals.values()),
    }
    to_a, to_b = cells.get(("O", "A"), 0), cells.get(("O", "B"), 0)
    base = row_totals["O"]
    rate = _percent(to_a + to_b, base)
    conversion = t.Table(
        name="conversion",
        caption=_("Conversion of O customers"),
        columns=[
            t.Column("transition", _("From O to")),
            t.Column("customers", _("Customers"), t.INT),
            t.Column("rate", _("Share of O customers"), t.PERCENT),
        ],
    )
    hrefs = {"A": migration_url(filters, "O", "A"), "B": migration_url(filters, "O", "B")}
    conversion.add(
        {"transition": "A", "customers": to_a, "rate": _percent(to_a, base)}, {"customers": hrefs["A"]}
    )
    conversion.add(
        {"transition": "B", "customers": to_b, "rate": _percent(to_b, base)}, {"customers": hrefs["B"]}
    )
    conversion.add(
        {"transition": _("A or B"), "customers": to_a + to_b, "rate": rate},
    )
    conversion.add(
        {
            "transition": _("O customers at the start"),
            "customers": base,
            "rate": Decimal("100.0") if base else None,
        },
    )
    return Migration(
        date_from=filters.date_from,
        date_to=filters.date_to,
        cells=cells,
        row_totals=row_totals,
        column_totals=column_totals,
        table=table,
        conversion=conversion,
        conversion_rate=rate,
        converted=to_a + to_b,
        base=base,
        conversion_href=hrefs,
    )


def migration_customers(
    *, filters: Filters, old: str, new: str, restricted: bool = False
) -> QuerySet[Customer]:
    """Exactly the customers counted in cell (old, new) of the migration matrix, without the
    restricted ones (with ``restricted=True``: only those, to count them)."""
    d1, d2 = filters.date_from, filters.date_to
    qs = _by_advisor(_listed(restricted), filters.advisor_id)
    if old != new:
        qs = qs.filter(pk__in=_changes_between(d1, d2).values("customer_id"))
    else:
        changed_since = ClassChange.objects.filter(customer=OuterRef("pk"), date__gt=d1)
        qs = qs.filter(Q(segment=new) | Exists(changed_since))
    return (
        qs.annotate(then=class_at(d1), now=class_at(d2))
        .filter(then=old, now=new)
        .select_related("advisor")
        .by_name()
    )


def bin_customers(
    *, snapshot: RunSnapshot, segment: str, x: int, y: int, filters: Filters, restricted: bool = False
) -> QuerySet[Customer]:
    """The customers of class ``segment`` in cell (x, y) of the density (current figures),
    without the restricted ones (with ``restricted=True``: only those, to count them)."""
    qs = _by_advisor(_listed(restricted).filter(segment=segment), filters.advisor_id)
    for axis, index in (("revenue", x), ("potential", y)):
        low, high = snapshot.bin_range(axis, index)
        if index > 0:
            qs = qs.filter(**{f"{axis}__gte": low})
        if index < snapshot.bins - 1:
            qs = qs.filter(**{f"{axis}__lt": high})
    return qs.select_related("advisor").by_name()


# --- care work ---------------------------------------------------------------------------------


@dataclass
class CareWork:
    by_class: t.Table
    by_activity: t.Table
    by_person: t.Table
    chart: dict[str, Any]
    taken_on: dt.date | None


CARE_KEYS = ("planned", "done", "skipped", "overdue")


def _care_columns(first: t.Column, *extra: t.Column) -> list[t.Column]:
    return [
        first,
        *extra,
        t.Column("planned", _("Planned (due)"), t.INT),
        t.Column("done", _("Done"), t.INT),
        t.Column("skipped", _("Skipped"), t.INT),
        t.Column("overdue", _("Overdue"), t.INT),
        t.Column("done_rate", _("Done / planned"), t.PERCENT),
    ]


def _person_name(row: dict[str, Any]) -> str:
    if row["assignee"] is None:
        return _("nobody")
    full = f"{row['assignee__first_name']} {row['assignee__last_name']}".strip()
    return full or row["assignee__username"]


def care_work(*, snapshot: RunSnapshot | None, filters: Filters) -> CareWork:
    by_class = t.Table(
        "care_classes", _("Care work by class"), _care_columns(t.Column("segment", _("Class"), t.CLASS))
    )
    by_activity = t.Table(
        "care_activities",
        _("Care work by activity"),
        _care_columns(t.Column("activity", _("Activity")), t.Column("segment", _("Class"), t.CLASS)),
    )
    by_person = t.Table(
        "care_people", _("Care work by person"), _care_columns(t.Column("person", _("Person")))
    )
    rows = []
    if snapshot is not None:
        rows = list(
            _by_advisor(
                CareDay.objects.filter(
                    snapshot=snapshot,
                    all_advisors=not filters.advisor_id,
                    date__gte=filters.date_from,
                    date__lte=filters.date_to,
                ),
                filters.advisor_id,
            )
            .values(
                "segment",
                "activity",
                "activity__name",
                "assignee",
                "assignee__first_name",
                "assignee__last_name",
                "assignee__username",
            )
            .annotate(**{key: Sum(key) for key in CARE_KEYS})
            .order_by()
        )
    classes: dict[str, dict[str, int]] = {s: dict.fromkeys(CARE_KEYS, 0) for s in CLASSES}
    activities: dict[int, dict[str, Any]] = {}
    people: dict[int | None, dict[str, Any]] = {}
    for row in rows:
        per_activity = activities.setdefault(
            row["activity"],
            {"activity": row["activity__name"], "segment": row["segment"], **dict.fromkeys(CARE_KEYS, 0)},
        )
        per_person = people.setdefault(
            row["assignee"], {"person": _person_name(row), **dict.fromkeys(CARE_KEYS, 0)}
        )
        per_class = classes.setdefault(row["segment"], dict.fromkeys(CARE_KEYS, 0))
        for key in CARE_KEYS:
            value = row[key] or 0
            per_class[key] += value
            per_activity[key] += value
            per_person[key] += value
    total = dict.fromkeys(CARE_KEYS, 0)
    for segment, figures in classes.items():
        by_class.add(
            {"segment": segment, **figures, "done_rate": _percent(figures["done"], figures["planned"])}
        )
        for key in CARE_KEYS:
            total[key] += figures[key]
    by_class.total = {"segment": _("Total"), **total, "done_rate": _percent(total["done"], total["planned"])}
    for figures in sorted(activities.values(), key=lambda r: (r["segment"], r["activity"])):
        by_activity.add({**figures, "done_rate": _percent(figures["done"], figures["planned"])})
    for figures in sorted(people.values(), key=lambda r: r["person"]):
        by_person.add({**figures, "done_rate": _percent(figures["done"], figures["planned"])})
    chart = {
        "labels": CLASSES,
        "series": {key: [classes[s][key] for s in CLASSES] for key in ("planned", "done", "overdue")},
    }
    return CareWork(
        by_class=by_class,
        by_activity=by_activity,
        by_person=by_person,
        chart=chart,
        taken_on=snapshot.taken_on if snapshot else None,
    )


# --- nightly run -------------------------------------------------------------------------------


@dataclass
class NightlyRun:
    last: ReclassificationRun | None
    last_success: ReclassificationRun | None
    stale: bool
    transitions: t.Table
    runs: t.Table


def _transition_rows(transitions: dict[str, int]) -> list[tuple[str, str, int]]:
    rows = []
    for key, count in transitions.items():
        old, _sep, new = key.partition("->")
        rows.append((old, new, int(count)))
    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))


def nightly_run(*, last_success: ReclassificationRun | None, now: dt.datetime) -> NightlyRun:
    recent = list(
        ReclassificationRun.objects.real()
        .select_related("policy", "triggered_by")
        .order_by("-started_at", "-id")[:RECENT_RUNS]
    )
    last = recent[0] if recent else None
    stale = (
        last_success is None
        or last_success.finished_at is None
        or now - last_success.finished_at > STALE_AFTER
    )
    transitions = t.Table(
        "transitions",
        _("Changes per transition"),
        [t.Column("old", _("From")), t.Column("new", _("To")), t.Column("customers", _("Customers"), t.INT)],
    )
    if last is not None:
        for old, new, count in _transition_rows(last.transitions or {}):
            transitions.add(
                {"old": old or _("not classified"), "new": new or _("not classified"), "customers": count}
            )
    runs = t.Table(
        "runs",
        _("Recent runs"),
        [
            t.Column("started", _("Started"), t.DATETIME),
            t.Column("as_of", _("As of"), t.DATE),
            t.Column("trigger", _("Trigger")),
            t.Column("status", _("Status")),
            t.Column("duration", _("Duration (s)"), t.DURATION),
            t.Column("customers", _("Customers"), t.INT),
            t.Column("changed", _("Class changes"), t.INT),
            t.Column("policy", _("Policy")),
        ],
    )
    for run in recent:
        runs.add(
            {
                "started": run.started_at,
                "as_of": run.as_of,
                "trigger": run.get_trigger_display(),
                "status": run.get_status_display(),
                "duration": run.duration,
                "customers": run.customers,
                "changed": run.changed,
                "policy": str(run.policy),
            }
        )
    return NightlyRun(last=last, last_success=last_success, stale=stale, transitions=transitions, runs=runs)


# --- the page ----------------------------------------------------------------------------------


@dataclass
class Dashboard:
    filters: Filters
    run: ReclassificationRun | None
    snapshot: RunSnapshot | None
    policy: SegmentationPolicy | None
    matrix: ClassMatrix
    chart: RevenuePotential
    over_time: TimeSeries
    migration: Migration
    care: CareWork
    nightly: NightlyRun
    charts: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def policy_changed(self) -> bool:
        return bool(self.run and self.policy and self.run.policy_id != self.policy.pk)

    def tables(self) -> dict[str, t.Table]:
        return {
            table.name: table
            for table in (
                self.matrix.table,
                self.chart.summary,
                self.chart.thresholds,
                self.over_time.table,
                self.migration.table,
                self.migration.conversion,
                self.care.by_class,
                self.care.by_activity,
                self.care.by_person,
                self.nightly.transitions,
                self.nightly.runs,
            )
        }


def chart_labels() -> dict[str, str]:
    """Words the charts show (translated here; the script has no catalogue)."""
    return {
        "revenue": _("Revenue"),
        "potential": _("Potential"),
        "customers": _("Customers"),
        "class": _("Class"),
        "threshold_revenue": _("Revenue threshold"),
        "threshold_potential": _("Potential threshold"),
        "planned": _("Planned"),
        "done": _("Done"),
        "overdue": _("Overdue"),
        "month": _("Month"),
        "cell": _("Revenue %(r)s, potential %(p)s"),
        "open_customer": _("Click to open the customer."),
        "open_cell": _("Click to list these customers."),
    }


def dashboard(
    *,
    filters: Filters,
    run: ReclassificationRun | None,
    snapshot: RunSnapshot | None,
    now: dt.datetime | None = None,
) -> Dashboard:
    now = now or timezone.now()
    policy = SegmentationPolicy.objects.filter(is_active=True).first()
    matrix = class_matrix(snapshot=snapshot, filters=filters)
    totals = {s: {"n": f.customers} for s, f in matrix.classes.items()}
    chart = revenue_potential(
        snapshot=snapshot, run=run, policy=policy, classified=matrix.total.customers, filters=filters
    )
    over_time = class_counts_over_time(
        snapshot=snapshot, as_of=run.as_of if run else None, totals=totals, filters=filters
    )
    board = Dashboard(
        filters=filters,
        run=run,
        snapshot=snapshot,
        policy=policy,
        matrix=matrix,
        chart=chart,
        over_time=over_time,
        migration=migration(filters=filters, snapshot=snapshot),
        care=care_work(snapshot=snapshot, filters=filters),
        nightly=nightly_run(last_success=run, now=now),
    )
    board.labels = chart_labels()
    board.charts = {
        "revenue_potential": chart.chart,
        "over_time": over_time.chart,
        "care": board.care.chart,
    }
    return board
