"""The cost model: does a class's care pay for itself? Pure arithmetic on Decimal.

Yearly care cost per customer of a class = Σ over its active activities of
    minutes / 60 × occurrences per year × hourly rate of the performer,
where the owner's rate is an opportunity cost (the hour could earn money elsewhere, even if the
owner does not pay himself for it). Occurrences per year, by recurrence kind:

- every N months: 12 / N;
- yearly on the birthday: 1;
- N weeks before each Hauptfälligkeit: the average number of active contracts per customer of the
  class (one task per contract and year);
- once per coverage gap: the average number of qualifying gaps per customer of the class — each gap
  is worked once, and as gaps close new ones open with the profile, so it counts as once a year;
- on entering the class: 1 / `CostSettings.assumed_years_in_class` (once per stint in the class;
  default 3 years, i.e. one third a year).

ratio = yearly care cost / average revenue (Courtage of the last 12 months) per customer; a class
is flagged when the ratio exceeds `CostSettings.max_cost_share` percent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .models import CareActivity, CostSettings, Performer, Recurrence, ServiceLevel, Track

CENT = Decimal("0.01")
MINUTES_PER_HOUR = Decimal(60)


def per_customer(total: Decimal, customers: int) -> Decimal:
    return total / customers if customers else Decimal("0")


@dataclass(frozen=True)
class ClassStatistics:
    segment: str
    customers: int
    average_revenue: Decimal
    average_contracts: Decimal
    # per gap activity id: qualifying gaps per customer
    average_gaps: dict[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ActivityCost:
    activity: CareActivity
    occurrences_per_year: Decimal
    rate: Decimal
    cost: Decimal  # per customer and year, unrounded

    @property
    def cost_rounded(self) -> Decimal:
        return self.cost.quantize(CENT)

    @property
    def minutes_per_year(self) -> Decimal:
        return (self.occurrences_per_year * self.activity.minutes).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class ClassCost:
    level: ServiceLevel
    stats: ClassStatistics
    activities: list[ActivityCost]
    care_cost: Decimal
    potential_cost: Decimal
    max_share: Decimal  # percent

    @property
    def segment(self) -> str:
        return self.level.segment

    @property
    def total_cost(self) -> Decimal:
        return self.care_cost + self.potential_cost

    @property
    def ratio(self) -> Decimal | None:
        """Care cost as percent of the average revenue; None without revenue."""
        if self.stats.average_revenue <= 0:
            return None
        return (self.total_cost / self.stats.average_revenue * 100).quantize(Decimal("0.1"))

    @property
    def over_limit(self) -> bool:
        if self.ratio is None:
            return self.total_cost > 0 and self.stats.customers > 0
        return self.ratio > self.max_share

    @property
    def yearly_class_cost(self) -> Decimal:
        return (self.total_cost * self.stats.customers).quantize(CENT)


def occurrences_per_year(
    *, activity: CareActivity, stats: ClassStatistics, settings: CostSettings
) -> Decimal:
    if activity.recurrence == Recurrence.EVERY_N_MONTHS:
        return Decimal(12) / Decimal(activity.interval_months or 12)
    if activity.recurrence == Recurrence.BIRTHDAY:
        return Decimal(1)
    if activity.recurrence == Recurrence.BEFORE_MAIN_DUE:
        return stats.average_contracts
    if activity.recurrence == Recurrence.PER_GAP:
        return stats.average_gaps.get(activity.pk, Decimal("0"))
    if activity.recurrence == Recurrence.ON_ENTRY:
        return Decimal(1) / settings.assumed_years_in_class
    raise ValueError(f"unknown recurrence {activity.recurrence!r}")


def activity_cost(*, activity: CareActivity, stats: ClassStatistics, settings: CostSettings) -> ActivityCost:
    occurrences = occurrences_per_year(activity=activity, stats=stats, settings=settings)
    rate = settings.owner_hourly_rate if activity.performer == Performer.OWNER else settings.staff_hourly_rate
    cost = Decimal(activity.minutes) / MINUTES_PER_HOUR * occurrences * rate
    return ActivityCost(activity=activity, occurrences_per_year=occurrences, rate=rate, cost=cost)


def class_cost(
    *, level: ServiceLevel, activities: list[CareActivity], stats: ClassStatistics, settings: CostSettings
) -> ClassCost:
    rows = [activity_cost(activity=a, stats=stats, settings=settings) for a in activities]
    care = sum((r.cost for r in rows if r.activity.active and r.activity.track == Track.CARE), Decimal("0"))
    potential = sum(
        (r.cost for r in rows if r.activity.active and r.activity.track == Track.POTENTIAL), Decimal("0")
    )
    return ClassCost(
        level=level,
        stats=stats,
        activities=rows,
        care_cost=care.quantize(CENT),
        potential_cost=potential.quantize(CENT),
        max_share=settings.max_cost_share,
    )
