"""Reads of the segmentation pages: the explanation of one customer's class, the policy preview,
the run list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from customers.models import CommissionBooking, Contract, Customer
from customers.templatetags.crm import money

from . import jobsql
from .models import (
    CLASSES,
    ClassChange,
    ClassOverride,
    PotentialAdjustment,
    PotentialComponent,
    ReclassificationRun,
    RecommendationRule,
    SegmentationPolicy,
    ThirdPartyContract,
    threshold_band_cents,
    threshold_bands,
)

CENT = Decimal("0.01")


def _months_before(day: dt.date, months: int) -> dt.date:
    from .services import months_before

    return months_before(day, months)


# --- explanation -------------------------------------------------------------------------------


@dataclass
class ContractRevenue:
    contract: Contract
    bookings: list[CommissionBooking] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((b.amount for b in self.bookings), Decimal("0"))


@dataclass
class Dimension:
    name: str
    value: Decimal
    high: bool
    bands: dict[str, Decimal] | None
    kept: bool
    reason: str


@dataclass
class Explanation:
    customer: Customer
    run: ReclassificationRun | None
    policy: SegmentationPolicy
    as_of: dt.date
    window_start: dt.date
    contracts: list[ContractRevenue]
    components: list[PotentialComponent]
    computed_class: str
    override: ClassOverride | None
    override_active: bool
    revenue: Dimension | None
    potential: Dimension | None
    reasons: list[str]
    history: list[ClassChange]
    third_party: list[ThirdPartyContract]
    adjustments: list[PotentialAdjustment]
    notes: list[str]

    @property
    def dimensions(self) -> list[Dimension]:
        return [d for d in (self.revenue, self.potential) if d is not None]

    @property
    def revenue_from_bookings(self) -> Decimal:
        return sum((c.total for c in self.contracts), Decimal("0"))

    @property
    def potential_from_components(self) -> Decimal:
        return sum((c.value for c in self.components), Decimal("0"))

    @property
    def figures_pending(self) -> bool:
        """Fremdverträge, adjustments or bookings changed since the last run (they count at the
        next run)."""
        counted = {(c.kind, c.source_id) for c in self.components}
        recorded = {("third_party", t.pk) for t in self.third_party} | {
            ("adjustment", a.pk) for a in self.adjustments if a.is_active_on(self.as_of)
        }
        counted_sources = {key for key in counted if key[0] != "gap"}
        if counted_sources != recorded:
            return True
        return self.run is not None and (
            self.potential_from_components != self.customer.potential
            or self.revenue_from_bookings != self.customer.revenue
        )


def _dimension(label: str, value: Decimal, high: bool, bands: dict[str, Decimal] | None) -> Dimension:
    if bands is None:
        return Dimension(label, value, high, None, False, "")
    kept = (high and value < bands["base"]) or (not high and value >= bands["base"] and value > 0)
    context = {
        "dim": label,
        "value": money(value),
        "base": money(bands["base"]),
        "stay": money(bands["stay"]),
        "enter": money(bands["enter"]),
    }
    if value <= 0 and not high:
        reason = _("%(dim)s %(value)s is zero or negative and counts as low.") % context
    elif high and not kept:
        reason = _("%(dim)s %(value)s reaches the threshold %(base)s: high.") % context
    elif high:
        reason = (
            _(
                "%(dim)s %(value)s is below the threshold %(base)s, but the customer was high and stays high "
                "down to %(stay)s: kept high by hysteresis."
            )
            % context
        )
    elif kept:
        reason = (
            _(
                "%(dim)s %(value)s reaches the threshold %(base)s, but the customer was low and becomes high "
                "only from %(enter)s on: kept low by hysteresis."
            )
            % context
        )
    else:
        reason = _("%(dim)s %(value)s is below the threshold %(base)s: low.") % context
    return Dimension(label, value, high, bands, kept, reason)


CLASS_SENTENCES = {
    "A": lambda: _("High revenue and high potential: class A."),
    "B": lambda: _("High revenue and low potential: class B."),
    "C": lambda: _("Low revenue and low potential: class C."),
    "O": lambda: _("Low revenue and high potential: class O."),
}


def customer_explanation(*, customer: Customer, today: dt.date | None = None) -> Explanation:
    """Everything that explains the customer's class, in a constant number of queries."""
    today = today or timezone.localdate()
    run = (
        ReclassificationRun.objects.finished()
        .select_related("policy")
        .order_by("-as_of", "-finished_at", "-id")
        .first()
    )
    policy = run.policy if run else SegmentationPolicy.objects.get(is_active=True)
    as_of = run.as_of if run else today
    window_start = run.window_start if run else _months_before(today, policy.revenue_window_months)

    contracts: dict[int, ContractRevenue] = {}
    bookings = (
        CommissionBooking.objects.filter(
            contract__customer=customer, booked_on__gt=window_start, booked_on__lte=as_of
        )
        .select_related("contract__line_of_business", "contract__insurer")
        .order_by("contract__line_of_business__code", "contract_id", "booked_on", "id")
    )
    for booking in bookings:
        contracts.setdefault(booking.contract_id, ContractRevenue(booking.contract)).bookings.append(booking)

    components = list(
        PotentialComponent.objects.filter(customer=customer)
        .select_related("line_of_business")
        .order_by("-value", "kind", "id")
    )
    override = (
        ClassOverride.objects.filter(customer=customer, ended_on__isnull=True)
        .select_related("created_by")
        .first()
    )
    override_active = bool(override and override.starts_on <= today <= override.expires_on)
    computed = override.computed_class if override else customer.segment
    classified = bool(customer.segment or computed) and customer.classified_at is not None

    revenue = potential = None
    reasons: list[str] = []
    notes: list[str] = []
    if run is None or customer.classified_at is None:
        reasons.append(_("Not classified yet: the customer has not been through a reclassification run."))
    elif customer.status == Customer.Status.FORMER:
        reasons.append(_("Former customers are not classified."))
    elif classified:
        revenue = _dimension(_("Revenue"), customer.revenue, computed in ("A", "B"), run.bands("revenue"))
        potential = _dimension(
            _("Potential"), customer.potential, computed in ("A", "O"), run.bands("potential")
        )
        reasons += [revenue.reason, potential.reason]
        if computed in CLASS_SENTENCES:
            reasons.append(CLASS_SENTENCES[computed]())
    if override is not None and override_active:
        reasons.append(
            _("Overridden to %(segment)s until %(until)s (%(reason)s); the computed class is %(computed)s.")
            % {
                "segment": override.segment,
                "until": date_format(override.expires_on, "SHORT_DATE_FORMAT"),
                "reason": override.reason,
                "computed": override.computed_class or "–",
            }
        )
    if override is not None and not override_active and override.expires_on < today:
        notes.append(
            _("The override expired on %(until)s; the next run returns the customer to the computed class.")
            % {"until": date_format(override.expires_on, "SHORT_DATE_FORMAT")}
        )
    if customer.revenue < 0:
        notes.append(
            _("Claw-backs exceed the bookings in the window: the revenue is negative and counts as low.")
        )
    if customer.birth_date is None and customer.kind == Customer.Kind.PERSON:
        notes.append(_("Birth date unknown: recommendation rules with an age condition do not apply."))
    if not contracts and customer.revenue == 0:
        notes.append(_("No Courtage booked in the revenue window."))

    return Explanation(
        customer=customer,
        run=run,
        policy=policy,
        as_of=as_of,
        window_start=window_start,
        contracts=list(contracts.values()),
        components=components,
        computed_class=computed,
        override=override,
        override_active=override_active,
        revenue=revenue,
        potential=potential,
        reasons=reasons,
        history=list(
            ClassChange.objects.filter(customer=customer)
            .select_related("policy", "run")
            .order_by("-date", "-id")
        ),
        third_party=list(
            ThirdPartyContract.objects.filter(customer=customer)
            .select_related("line_of_business")
            .order_by("id")
        ),
        adjustments=list(
            PotentialAdjustment.objects.filter(customer=customer).order_by("-valid_from", "-id")
        ),
        notes=notes,
    )


# --- policy preview ----------------------------------------------------------------------------


@dataclass
class PreviewRow:
    segment: str
    count: int
    revenue: Decimal
    potential: Decimal
    customer_share: Decimal
    revenue_share: Decimal
    current_count: int

    @property
    def delta(self) -> int:
        return self.count - self.current_count


@dataclass
class Preview:
    rows: list[PreviewRow]
    revenue_bands: dict[str, Decimal]
    potential_bands: dict[str, Decimal]
    customers: int
    changes: int
    based_on: ReclassificationRun | None
    live_revenue: bool
    as_of: dt.date


_STORED_SOURCE = f"""
SELECT c.id AS customer_id, {jobsql.cents_sql("c.revenue")} AS revenue_cents,
       {jobsql.cents_sql("c.potential")} AS potential_cents, c.status <> '{jobsql.FORMER}' AS classified
FROM customers_customer c
"""

_LIVE_SOURCE = f"""
SELECT c.id AS customer_id, COALESCE(rv.cents, 0) AS revenue_cents,
       {jobsql.cents_sql("c.potential")} AS potential_cents, c.status <> '{jobsql.FORMER}' AS classified
FROM customers_customer c
LEFT JOIN (
    SELECT k.customer_id AS customer_id, {jobsql.cents_sql("SUM(b.amount)")} AS cents
    FROM customers_contract k JOIN customers_commissionbooking b ON b.contract_id = k.id
    WHERE b.booked_on > %(window_start)s AND b.booked_on <= %(as_of)s
    GROUP BY k.customer_id
) rv ON rv.customer_id = c.id
"""


def policy_preview(
    *,
    revenue_method: str,
    revenue_value: Decimal,
    potential_method: str,
    potential_value: Decimal,
    hysteresis_percent: Decimal,
    revenue_window_months: int,
    today: dt.date | None = None,
) -> Preview:
    """Class sizes, revenue share and potential sum under the given (unsaved) policy, on current
    data: the figures stored by the last run; revenue is recomputed from the bookings when the
    window differs from that run's. Hysteresis and overrides in force apply as in a run."""
    today = today or timezone.localdate()
    run = ReclassificationRun.objects.finished().select_related("policy").order_by("-as_of", "-id").first()
    as_of = run.as_of if run else today
    live = run is None or run.policy.revenue_window_months != revenue_window_months
    ops = connection.ops
    params = {
        "as_of": ops.adapt_datefield_value(as_of),
        "window_start": ops.adapt_datefield_value(_months_before(as_of, revenue_window_months)),
        "today": ops.adapt_datefield_value(today),
    }
    source = _LIVE_SOURCE if live else _STORED_SOURCE
    with connection.cursor() as cursor:
        rev_t = jobsql.threshold_cents(cursor, source, params, "revenue_cents", revenue_method, revenue_value)
        pot_t = jobsql.threshold_cents(
            cursor, source, params, "potential_cents", potential_method, potential_value
        )
        rev_b = threshold_band_cents(Decimal(rev_t) / 100, hysteresis_percent)
        pot_b = threshold_band_cents(Decimal(pot_t) / 100, hysteresis_percent)
        params.update(
            rev_base=rev_b[0],
            rev_stay=rev_b[1],
            rev_enter=rev_b[2],
            pot_base=pot_b[0],
            pot_stay=pot_b[1],
            pot_enter=pot_b[2],
        )
        cursor.execute(
            f"""
            SELECT x.segment, x.current_segment, COUNT(*), COALESCE(SUM(x.revenue_cents), 0),
                   COALESCE(SUM(x.potential_cents), 0)
            FROM (
                SELECT CASE WHEN c.status = '{jobsql.FORMER}' THEN ''
                            WHEN o.id IS NOT NULL AND o.starts_on <= %(today)s AND o.expires_on >= %(today)s
                                THEN o.segment
                            ELSE {jobsql.computed_class_sql("f.revenue_cents", "f.potential_cents")} END AS segment,
                       c.segment AS current_segment, f.revenue_cents, f.potential_cents
                FROM ({source}) f
                JOIN customers_customer c ON c.id = f.customer_id
                LEFT JOIN segmentation_classoverride o ON o.customer_id = c.id AND o.ended_on IS NULL
            ) x
            GROUP BY x.segment, x.current_segment
            """,
            params,
        )
        grouped = cursor.fetchall()
    counts: dict[str, list] = {s: [0, 0, 0, 0] for s in [*CLASSES, ""]}  # count, rev, pot, current
    changes = 0
    for segment, current, count, rev, pot in grouped:
        counts[segment][0] += int(count)
        counts[segment][1] += int(rev)
        counts[segment][2] += int(pot)
        counts[current or ""][3] += int(count)
        if segment != current:
            changes += int(count)
    total = sum(v[0] for v in counts.values())
    total_revenue = sum(v[1] for v in counts.values())
    rows = []
    for segment in [*CLASSES, ""]:
        count, rev, pot, current = counts[segment]
        if segment == "" and not count and not current:
            continue
        rows.append(
            PreviewRow(
                segment=segment,
                count=count,
                revenue=Decimal(rev) / 100,
                potential=Decimal(pot) / 100,
                customer_share=(Decimal(count * 100) / total).quantize(Decimal("0.1"))
                if total
                else Decimal(0),
                revenue_share=(Decimal(rev * 100) / total_revenue).quantize(Decimal("0.1"))
                if total_revenue > 0
                else Decimal(0),
                current_count=current,
            )
        )
    return Preview(
        rows=rows,
        revenue_bands=threshold_bands(Decimal(rev_t) / 100, hysteresis_percent),
        potential_bands=threshold_bands(Decimal(pot_t) / 100, hysteresis_percent),
        customers=total,
        changes=changes,
        based_on=run,
        live_revenue=live,
        as_of=as_of,
    )


# --- lists -------------------------------------------------------------------------------------


def run_list() -> QuerySet[ReclassificationRun]:
    return (
        ReclassificationRun.objects.select_related("policy", "triggered_by")
        .annotate(
            chunks_total=Count("chunks"),
            chunks_done=Count("chunks", filter=Q(chunks__done_at__isnull=False)),
        )
        .order_by("-started_at", "-id")
    )


def policy_versions() -> QuerySet[SegmentationPolicy]:
    return SegmentationPolicy.objects.select_related("created_by").order_by("-version")


def rule_list() -> QuerySet[RecommendationRule]:
    return RecommendationRule.objects.select_related("line_of_business").order_by(
        "-is_active", "line_of_business__code", "id"
    )
