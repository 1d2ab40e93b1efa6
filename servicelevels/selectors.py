"""Reads the service-level pages need: the worklist, one customer's tasks, the workload, costs."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, F, Q, QuerySet, Sum, When

from brokercrm.accounts.roles import OWNER_GROUP, STAFF_GROUP
from customers.models import Contract, Customer

from . import costs
from .models import CareActivity, CareTask, CostSettings, Recurrence, ServiceLevel
from .planning import gap_model

User = get_user_model()

WORKLIST_LIMIT = 300
WORKLOAD_WEEKS = 6
CUSTOMER_CLOSED_TASKS = 10


def firm_owner() -> User | None:
    """The owner who performs owner activities: the first active user (lowest id) in "Inhaber"."""
    return User.objects.filter(is_active=True, groups__name=OWNER_GROUP).order_by("id").first()


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


# -- worklist ---------------------------------------------------------------------------------


@dataclass
class Worklist:
    today: dt.date
    week_end: dt.date
    sections: dict[str, list[CareTask]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def shown(self) -> int:
        return sum(len(rows) for rows in self.sections.values())

    @property
    def truncated(self) -> bool:
        return self.shown < self.total


def care_task_worklist_queryset(*, user, filters: dict, today: dt.date) -> QuerySet[CareTask]:
    """Open tasks due up to the end of this week (Sunday), filtered; staff see their own.
    Tasks of customers under an Art. 18 restriction are left out."""
    week_end = week_start(today) + dt.timedelta(days=6)
    qs = CareTask.objects.open().usable().filter(due_date__lte=week_end)
    assignee = filters.get("assignee")
    if user.is_owner and assignee == "all":
        pass
    elif user.is_owner and assignee:
        qs = qs.filter(assignee=assignee)
    else:
        qs = qs.assigned_to(user)
    if filters.get("segment"):
        qs = qs.in_class(filters["segment"])
    if filters.get("track"):
        qs = qs.filter(activity__track=filters["track"])
    if filters.get("activity"):
        qs = qs.filter(activity=filters["activity"])
    return qs


def care_task_worklist(*, user, filters: dict, today: dt.date) -> Worklist:
    """Overdue, today and this week — one query for the rows, one for the section counts."""
    qs = care_task_worklist_queryset(user=user, filters=filters, today=today)
    worklist = Worklist(today=today, week_end=week_start(today) + dt.timedelta(days=6))
    counts = qs.aggregate(
        overdue=Count("id", filter=Q(due_date__lt=today)),
        today=Count("id", filter=Q(due_date=today)),
        week=Count("id", filter=Q(due_date__gt=today)),
    )
    worklist.counts = {key: counts[key] or 0 for key in ("overdue", "today", "week")}
    worklist.sections = {"overdue": [], "today": [], "week": []}
    rows = qs.with_related().order_by("due_date", "customer__name", "id")[:WORKLIST_LIMIT]
    for task in rows:
        key = "overdue" if task.due_date < today else "today" if task.due_date == today else "week"
        worklist.sections[key].append(task)
    return worklist


def customer_care_tasks(*, customer: Customer) -> dict[str, list[CareTask]]:
    base = CareTask.objects.filter(customer=customer).select_related(
        "activity", "activity__service_level", "assignee", "contract", "line_of_business", "closed_by"
    )
    return {
        "open": list(base.open().order_by("due_date", "id")),
        "closed": list(base.closed().order_by("-closed_at", "-id")[:CUSTOMER_CLOSED_TASKS]),
    }


# -- workload ---------------------------------------------------------------------------------


@dataclass
class WorkloadRow:
    user: object
    capacity: int
    overdue: int = 0
    weeks: list[int] = field(default_factory=list)

    @property
    def cells(self) -> list[tuple[int, bool]]:
        """(planned minutes, over capacity) per week."""
        return [(minutes, minutes > self.capacity) for minutes in self.weeks]


@dataclass
class Workload:
    week_starts: list[dt.date]
    rows: list[WorkloadRow]


def team_workload(*, today: dt.date, weeks: int = WORKLOAD_WEEKS) -> Workload:
    """Planned minutes of open tasks per person and week vs capacity; overdue work (due before
    today) apart, this week's column holds the rest of this week. Restricted customers' tasks
    (Art. 18) are not work."""
    first = week_start(today)
    starts = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    end = first + dt.timedelta(weeks=weeks)
    planned = (
        CareTask.objects.open()
        .usable()
        .filter(due_date__lt=end)
        .annotate(
            bucket=Case(
                When(due_date__lt=today, then=-1),
                *[When(due_date__lt=start + dt.timedelta(weeks=1), then=i) for i, start in enumerate(starts)],
            )
        )
        .values("assignee_id", "bucket")
        .annotate(minutes=Sum("activity__minutes"))
        .order_by()
    )
    by_user: dict[int | None, dict[int, int]] = defaultdict(dict)
    for row in planned:
        by_user[row["assignee_id"]][row["bucket"]] = row["minutes"] or 0
    users = (
        User.objects.filter(
            Q(is_active=True, groups__name__in=[OWNER_GROUP, STAFF_GROUP]) | Q(id__in=by_user.keys())
        )
        .distinct()
        .select_related("care_capacity")
        .order_by("last_name", "first_name", "username")
    )
    rows = []
    for user in users:
        capacity = getattr(getattr(user, "care_capacity", None), "minutes_per_week", 0)
        buckets = by_user.get(user.pk, {})
        rows.append(
            WorkloadRow(
                user=user,
                capacity=capacity,
                overdue=buckets.get(-1, 0),
                weeks=[buckets.get(i, 0) for i in range(weeks)],
            )
        )
    if None in by_user:
        buckets = by_user[None]
        rows.append(
            WorkloadRow(
                user=None,
                capacity=0,
                overdue=buckets.get(-1, 0),
                weeks=[buckets.get(i, 0) for i in range(weeks)],
            )
        )
    return Workload(week_starts=starts, rows=rows)


# -- cost model -------------------------------------------------------------------------------


def class_statistics(*, activities: list[CareActivity]) -> dict[str, costs.ClassStatistics]:
    """Per class: active customers, average revenue, active contracts and qualifying gaps per
    customer. A constant number of queries: two, plus one per gap activity."""
    customers = (
        Customer.objects.active()
        .exclude(segment="")
        .values("segment")
        .annotate(n=Count("id"), revenue=Sum("revenue"))
        .order_by()
    )
    stats: dict[str, dict] = {
        row["segment"]: {"customers": row["n"], "revenue": row["revenue"] or Decimal("0")}
        for row in customers
    }
    contracts = (
        Contract.objects.active()
        .filter(customer__status=Customer.Status.ACTIVE)
        .exclude(customer__segment="")
        .values("customer__segment")
        .annotate(n=Count("id"))
        .order_by()
    )
    contract_counts = {row["customer__segment"]: row["n"] for row in contracts}
    gap_counts: dict[int, int] = {}
    component = gap_model()
    for activity in activities:
        if activity.recurrence != Recurrence.PER_GAP or component is None:
            continue
        gaps = component.objects.filter(
            kind="gap",
            line_of_business__isnull=False,
            customer__status=Customer.Status.ACTIVE,
            customer__segment=activity.service_level.segment,
        )
        if activity.biggest_gap_only:
            gaps = gaps.filter(customer__biggest_gap_id=F("line_of_business_id"))
        gap_counts[activity.pk] = (
            gaps.values("customer_id", "line_of_business_id")
            .annotate(total=Sum("value"))
            .filter(total__gte=activity.min_gap_value)
            .count()
        )
    result = {}
    for segment in ("A", "B", "C", "O"):
        row = stats.get(segment, {"customers": 0, "revenue": Decimal("0")})
        n = row["customers"]
        result[segment] = costs.ClassStatistics(
            segment=segment,
            customers=n,
            average_revenue=costs.per_customer(Decimal(row["revenue"]), n),
            average_contracts=costs.per_customer(Decimal(contract_counts.get(segment, 0)), n),
            average_gaps={
                a.pk: costs.per_customer(Decimal(gap_counts.get(a.pk, 0)), n)
                for a in activities
                if a.service_level.segment == segment and a.recurrence == Recurrence.PER_GAP
            },
        )
    return result


def cost_overview(*, segments: list[str] | None = None) -> list[costs.ClassCost]:
    """The catalogue with its cost figures, per class (all classes, or the given ones)."""
    levels = list(ServiceLevel.objects.order_by("segment"))
    if segments:
        levels = [level for level in levels if level.segment in segments]
    activities = list(
        CareActivity.objects.filter(service_level__in=levels)
        .select_related("service_level")
        .order_by("position", "id")
    )
    settings = CostSettings.load()
    stats = class_statistics(activities=[a for a in activities if a.active])
    by_level: dict[int, list[CareActivity]] = defaultdict(list)
    for activity in activities:
        by_level[activity.service_level_id].append(activity)
    return [
        costs.class_cost(
            level=level, activities=by_level[level.pk], stats=stats[level.segment], settings=settings
        )
        for level in levels
    ]
