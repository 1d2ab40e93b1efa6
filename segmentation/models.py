"""Segmentation: revenue × potential → class A/B/C/O, explainable and with history.

Glossary:
- Ertrag (revenue): Courtage booked on the customer's contracts in the revenue window before the
  run's as-of date, i.e. bookings with ``as_of - window < booked_on <= as_of``. Claw-backs
  (Storno) are negative bookings and reduce it; a revenue of zero or below always counts as low.
- Potenzial (potential): the sum of the customer's current ``PotentialComponent`` rows: coverage
  gaps found by ``RecommendationRule``\\s, known third-party contracts (Fremdverträge) and manual
  adjustments (life events). A potential of zero or below always counts as low.
- Class: A = high revenue, high potential; B = high revenue, low potential; C = low, low;
  O = low revenue, high potential. Former customers are not classified (class "").
- Hysteresis: see ``SegmentationPolicy``.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from customers.models import MONEY, Customer, LineOfBusiness

from .querysets import (
    ClassOverrideQuerySet,
    PotentialAdjustmentQuerySet,
    ReclassificationRunQuerySet,
    RecommendationRuleQuerySet,
)

CLASSES = [c for c in Customer.Segment.values if c]


class ThresholdMethod(models.TextChoices):
    ABSOLUTE = "absolute", _("absolute amount (€/year)")
    QUANTILE = "quantile", _("top quantile (top x % of customers)")
    PARETO = "pareto", _("Pareto cut (customers making y % of the total)")


def _method_value_valid(prefix: str) -> Q:
    method, value = f"{prefix}_method", f"{prefix}_value"
    return (
        Q(**{method: ThresholdMethod.ABSOLUTE, f"{value}__gte": 0})
        | Q(**{method: ThresholdMethod.QUANTILE, f"{value}__gt": 0, f"{value}__lt": 100})
        | Q(**{method: ThresholdMethod.PARETO, f"{value}__gt": 0, f"{value}__lte": 100})
    )


class SegmentationPolicy(models.Model):
    """Thresholds for "high" revenue and potential. Versioned: editing creates a new version;
    exactly one version is active.

    Per dimension, the threshold T is an absolute amount, the value of the customer at rank
    ceil(N · x / 100) in descending order (top x %), or the smallest value among the top customers
    who together make y % of the dimension's positive total (Pareto; the customer who crosses y %
    is included). Ties at T count as high, so a quantile can hold a few more than x %.

    Hysteresis with margin m (percent of T): a customer whose current class is on the high side
    stays high while its value is >= T · (1 − m/100); a customer on the low side becomes high
    only when its value is >= T · (1 + m/100). A customer without a class yet is compared with
    T itself. A value of zero or below is never high.
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    is_active = models.BooleanField(_("active"), default=False)
    revenue_method = models.CharField(
        _("revenue threshold"),
        max_length=10,
        choices=ThresholdMethod.choices,
        default=ThresholdMethod.ABSOLUTE,
    )
    revenue_value = models.DecimalField(
        _("revenue value"),
        max_digits=14,
        decimal_places=2,
        help_text=_("€/year for an absolute threshold, otherwise a percentage."),
    )
    potential_method = models.CharField(
        _("potential threshold"),
        max_length=10,
        choices=ThresholdMethod.choices,
        default=ThresholdMethod.ABSOLUTE,
    )
    potential_value = models.DecimalField(
        _("potential value"),
        max_digits=14,
        decimal_places=2,
        help_text=_("€/year for an absolute threshold, otherwise a percentage."),
    )
    hysteresis_percent = models.DecimalField(
        _("hysteresis margin (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("99"))],
        help_text=_("A customer keeps its side of a threshold unless it crosses it by more than this."),
    )
    revenue_window_months = models.PositiveSmallIntegerField(
        _("revenue window (months)"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
    )
    note = models.CharField(_("note"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Audit trail (customers.history): a version is created by `services.policy_publish`; the
    # page compares each version with the one before it.
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("segmentation policy")
        verbose_name_plural = _("segmentation policies")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="segmentation_one_active_policy"
            ),
            models.CheckConstraint(
                condition=_method_value_valid("revenue"), name="policy_revenue_value_valid"
            ),
            models.CheckConstraint(
                condition=_method_value_valid("potential"), name="policy_potential_value_valid"
            ),
            models.CheckConstraint(
                condition=Q(hysteresis_percent__gte=0, hysteresis_percent__lt=100),
                name="policy_hysteresis_range",
            ),
            models.CheckConstraint(
                condition=Q(revenue_window_months__gte=1, revenue_window_months__lte=120),
                name="policy_window_range",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"

    @property
    def needs_distribution(self) -> bool:
        """Quantile and Pareto thresholds depend on every customer's figures."""
        return (
            self.revenue_method != ThresholdMethod.ABSOLUTE
            or self.potential_method != ThresholdMethod.ABSOLUTE
        )


class RecommendationRule(models.Model):
    """A line of business that a customer profile should hold, with its expected annual Courtage.

    A rule applies to a customer when every condition that is set holds. Unknown facts never
    satisfy a condition: a rule with an age bound does not apply to a customer without birth date.
    A coverage gap is an applying rule whose line the customer does not hold in an active contract
    with us (``customers.gdv.ACTIVE_CONTRACT_STATUSES``) and for which no Fremdvertrag is recorded
    (that contract is counted as third-party potential instead).

    Household scope: the line counts as held when any member of the household holds it (family
    tariffs), and the gap is counted once, at the member with the lowest id the rule applies to.
    Per car: the gap is counted per car not covered by a contract (or Fremdvertrag) in the line.
    """

    class Kind(models.TextChoices):
        ANY = "", _("persons and companies")
        PERSON = "person", _("persons")
        COMPANY = "company", _("companies")

    class Scope(models.TextChoices):
        CUSTOMER = "customer", _("per customer")
        HOUSEHOLD = "household", _("per household")

    name = models.CharField(_("name"), max_length=120)
    line_of_business = models.ForeignKey(
        LineOfBusiness, verbose_name=_("line of business"), on_delete=models.PROTECT, related_name="+"
    )
    customer_kind = models.CharField(_("for"), max_length=10, choices=Kind.choices, blank=True, default="")
    min_age = models.PositiveSmallIntegerField(
        _("minimum age"), null=True, blank=True, validators=[MaxValueValidator(120)]
    )
    max_age = models.PositiveSmallIntegerField(
        _("maximum age"), null=True, blank=True, validators=[MaxValueValidator(120)]
    )
    homeowner = models.BooleanField(_("homeowner"), null=True, blank=True)
    car_owner = models.BooleanField(_("car owner"), null=True, blank=True)
    has_children = models.BooleanField(_("has children"), null=True, blank=True)
    occupations = models.JSONField(
        _("occupations"), default=list, blank=True, help_text=_("Empty: any occupation.")
    )
    marital_statuses = models.JSONField(
        _("marital statuses"), default=list, blank=True, help_text=_("Empty: any marital status.")
    )
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices, default=Scope.CUSTOMER)
    per_car = models.BooleanField(_("per car"), default=False)
    expected_commission = models.DecimalField(
        _("expected annual commission"),
        validators=[MinValueValidator(Decimal("0"))],
        **MONEY,
    )
    is_active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=300, blank=True, default="")

    objects = RecommendationRuleQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("recommendation rule")
        verbose_name_plural = _("recommendation rules")
        ordering = ["line_of_business__code", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_age__isnull=True)
                | Q(max_age__isnull=True)
                | Q(min_age__lte=models.F("max_age")),
                name="rule_min_age_not_above_max_age",
            ),
            models.CheckConstraint(
                condition=Q(expected_commission__gte=0), name="rule_commission_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ThirdPartyContract(models.Model):
    """A Fremdvertrag: a contract the customer holds through someone else, which could be
    transferred to us. Counts as potential at its expected annual commission."""

    # Only the (customer, line) index: the job probes by customer and line, and a planner with
    # stale statistics must not pick a line-only index and scan every Fremdvertrag of the line.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="third_party_contracts",
        db_index=False,
    )
    line_of_business = models.ForeignKey(
        LineOfBusiness,
        verbose_name=_("line of business"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    insurer_name = models.CharField(_("insurer"), max_length=200, blank=True, default="")
    annual_premium = models.DecimalField(
        _("annual premium"), null=True, blank=True, validators=[MinValueValidator(Decimal("0"))], **MONEY
    )
    expected_commission = models.DecimalField(
        _("expected annual commission"), validators=[MinValueValidator(Decimal("0"))], **MONEY
    )
    ends_on = models.DateField(_("ends on (Ablauf)"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("third-party contract")
        verbose_name_plural = _("third-party contracts")
        ordering = ["line_of_business__code", "id"]
        indexes = [models.Index(fields=["customer", "line_of_business"], name="thirdparty_customer_line_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(expected_commission__gte=0), name="thirdparty_commission_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(annual_premium__isnull=True) | Q(annual_premium__gte=0),
                name="thirdparty_premium_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_of_business.short_name} ({self.insurer_name or '?'})"

    @property
    def label(self) -> str:
        return " · ".join(p for p in (self.line_of_business.short_name, self.insurer_name) if p)


class PotentialAdjustment(models.Model):
    """A manual change of potential for a life event, valid from a day until its expiry
    (inclusive). Negative amounts lower the potential (e.g. retirement)."""

    class Event(models.TextChoices):
        MARRIAGE = "marriage", _("marriage")
        CHILD = "child", _("child")
        HOUSE_PURCHASE = "house", _("house purchase")
        NEW_JOB = "job", _("new job")
        SELF_EMPLOYMENT = "self_employed", _("self-employment")
        RETIREMENT = "retirement", _("retirement")
        OTHER = "other", _("other")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="potential_adjustments"
    )
    event = models.CharField(_("life event"), max_length=20, choices=Event.choices)
    reason = models.CharField(_("reason"), max_length=300)
    amount = models.DecimalField(_("amount (€/year)"), **MONEY)
    valid_from = models.DateField(_("valid from"))
    expires_on = models.DateField(_("expires on"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = PotentialAdjustmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("potential adjustment")
        verbose_name_plural = _("potential adjustments")
        ordering = ["-valid_from", "-id"]
        indexes = [models.Index(fields=["customer", "expires_on"], name="adjustment_customer_exp_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="adjustment_reason_required"),
            models.CheckConstraint(
                condition=Q(expires_on__gte=models.F("valid_from")), name="adjustment_expiry_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()}: {self.amount} €"

    def is_active_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.expires_on


# Rows the job writes in bulk (components, history, per-run scratch rows) reference customers,
# lines, policies and runs without a database foreign key: the job inserts them from joins with
# the rows they point to, and Django enforces on_delete. The per-row checks of database foreign
# keys doubled the cost of these inserts (measured on PostgreSQL), on the nightly hot path.
BULK_FK = {"db_constraint": False, "db_index": False}


class PotentialComponent(models.Model):
    """One explainable part of a customer's CURRENT potential, written by the reclassification
    job (set-based, per chunk; rows that did not change are left alone).

    ``source_id`` is the id of the rule (gap), Fremdvertrag (third_party) or adjustment."""

    class Kind(models.TextChoices):
        GAP = "gap", _("coverage gap")
        THIRD_PARTY = "third_party", _("third-party contract")
        ADJUSTMENT = "adjustment", _("adjustment")

    # The unique (customer, kind, source_id) index serves customer lookups.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="potential_components", **BULK_FK
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    source_id = models.BigIntegerField(_("source"))
    line_of_business = models.ForeignKey(
        LineOfBusiness,
        verbose_name=_("line of business"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        **BULK_FK,
    )
    value = models.DecimalField(_("value"), **MONEY)
    label = models.CharField(_("label"), max_length=300)

    class Meta:
        verbose_name = _("potential component")
        verbose_name_plural = _("potential components")
        ordering = ["customer_id", "-value", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "kind", "source_id"], name="component_unique_source"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.value} €"


class ClassOverride(models.Model):
    """A class pinned by hand with a reason, in force from ``starts_on`` to ``expires_on``
    (inclusive). The computed class is still computed every run and kept in ``computed_class``.

    At most one override per customer is open (``ended_on`` empty); a new one ends the old, and
    the first run after the expiry ends it (the class then returns to the computed class)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="class_overrides"
    )
    segment = models.CharField(_("class"), max_length=1, choices=[(c, c) for c in CLASSES])
    reason = models.CharField(_("reason"), max_length=300)
    starts_on = models.DateField(_("from"))
    expires_on = models.DateField(_("until"))
    computed_class = models.CharField(
        _("computed class"), max_length=1, blank=True, default="", choices=Customer.Segment.choices
    )
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ClassOverrideQuerySet.as_manager()
    # Owner's overrides are audited (services write them through save()); the nightly job's
    # set-based updates (computed class, ending expired overrides) write no audit rows: the
    # class history (ClassChange) records those.
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("class override")
        verbose_name_plural = _("class overrides")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(ended_on__isnull=True), name="override_one_open_per_customer"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="override_reason_required"),
            models.CheckConstraint(
                condition=Q(expires_on__gte=models.F("starts_on")), name="override_expiry_after_start"
            ),
            models.CheckConstraint(condition=Q(segment__in=CLASSES), name="override_class_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.segment} ({self.reason})"

    def is_active_on(self, day: dt.date) -> bool:
        return self.ended_on is None and self.starts_on <= day <= self.expires_on

    @staticmethod
    def history_label(record) -> str:
        """How the customer page's audit trail names a row (customers.history)."""
        since = formats.date_format(record.starts_on, "SHORT_DATE_FORMAT")
        return f"{ClassOverride._meta.verbose_name} {record.segment} ({since})"


class RunStatus(models.TextChoices):
    RUNNING = "running", _("running")
    FINISHED = "finished", _("finished")
    FAILED = "failed", _("failed")
    ABANDONED = "abandoned", _("abandoned")
    DRY_RUN = "dry_run", _("dry run")


class ReclassificationRun(models.Model):
    """One reclassification job for an as-of date, with its parameters and per-run aggregates
    (so dashboards read these instead of scanning customers).

    Thresholds are resolved once per run and stored here, so every chunk agrees. A run that is
    interrupted is resumed by the next start for the same as-of date: only its unfinished
    chunks are processed."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("nightly schedule")
        COMMAND = "command", _("command line")
        OWNER = "owner", _("run now")
        SERVICE = "service", _("service call")

    as_of = models.DateField(_("as of"))
    status = models.CharField(
        _("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices, default=Trigger.SERVICE)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    policy = models.ForeignKey(SegmentationPolicy, on_delete=models.PROTECT, related_name="runs")
    two_pass = models.BooleanField(
        _("two passes"), default=False, help_text=_("Thresholds need every customer's figures first.")
    )
    window_start = models.DateField(_("revenue window start (exclusive)"))
    chunk_size = models.PositiveIntegerField(_("chunk size"))
    revenue_threshold = models.DecimalField(_("revenue threshold"), null=True, blank=True, **MONEY)
    potential_threshold = models.DecimalField(_("potential threshold"), null=True, blank=True, **MONEY)
    thresholds_at = models.DateTimeField(null=True, blank=True)
    revenue_at = models.DateTimeField(null=True, blank=True)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    changed = models.PositiveIntegerField(_("class changes"), default=0)
    figures_changed = models.PositiveIntegerField(_("figures changed"), default=0)
    overrides_active = models.PositiveIntegerField(_("overrides in force"), default=0)
    overrides_ended = models.PositiveIntegerField(_("overrides ended"), default=0)
    transitions = models.JSONField(_("changes per transition"), default=dict, blank=True)
    class_summary = models.JSONField(
        _("classes after the run"),
        default=dict,
        blank=True,
        help_text=_('{"A": {"count": n, "revenue": "…", "potential": "…"}, …}'),
    )
    errors = models.TextField(_("errors"), blank=True, default="")

    objects = ReclassificationRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("reclassification run")
        verbose_name_plural = _("reclassification runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["as_of", "status"], name="run_asof_status_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.as_of:%d.%m.%Y} ({self.get_status_display()})"

    @property
    def margin(self) -> Decimal:
        return self.policy.hysteresis_percent

    def bands(self, dimension: str) -> dict[str, Decimal] | None:
        """The three limits of a dimension: base T, lower band (stay high), upper band (become
        high), each in € rounded up to the cent (values are compared in whole cents)."""
        threshold = self.revenue_threshold if dimension == "revenue" else self.potential_threshold
        if threshold is None:
            return None
        return threshold_bands(threshold, self.policy.hysteresis_percent)

    @property
    def duration(self) -> dt.timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None


def _ceil_cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value(rounding=ROUND_CEILING))


def threshold_bands(threshold: Decimal, margin_percent: Decimal) -> dict[str, Decimal]:
    m = Decimal(margin_percent) / 100
    t = Decimal(threshold)
    return {
        "base": Decimal(_ceil_cents(t)) / 100,
        "stay": Decimal(_ceil_cents(t * (1 - m))) / 100,
        "enter": Decimal(_ceil_cents(t * (1 + m))) / 100,
    }


def threshold_band_cents(threshold: Decimal, margin_percent: Decimal) -> tuple[int, int, int]:
    """(base, stay, enter) in whole cents; see ``SegmentationPolicy`` for the definition."""
    m = Decimal(margin_percent) / 100
    t = Decimal(threshold)
    return _ceil_cents(t), _ceil_cents(t * (1 - m)), _ceil_cents(t * (1 + m))


class RunChunk(models.Model):
    """A customer-id range of a run, processed atomically together with its history rows.
    Phase 1 of a two-pass run stages figures; phase 2 (or the only phase) classifies and writes."""

    class Phase(models.IntegerChoices):
        FIGURES = 1, _("figures")
        CLASSIFY = 2, _("classify")
        SINGLE = 3, _("figures and classify")

    run = models.ForeignKey(ReclassificationRun, on_delete=models.CASCADE, related_name="chunks")
    phase = models.PositiveSmallIntegerField(choices=Phase.choices)
    index = models.PositiveIntegerField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    customers = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    figures_changed = models.PositiveIntegerField(default=0)
    overrides_active = models.PositiveIntegerField(default=0)
    overrides_ended = models.PositiveIntegerField(default=0)
    transitions = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run_id", "phase", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "phase", "index"], name="runchunk_unique_index"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} phase {self.phase} chunk {self.index}"


class RunRule(models.Model):
    """Snapshot of the active recommendation rules at the start of a run, with the age bounds
    resolved to birth-date bounds for the run's as-of date, so every chunk uses the same rules."""

    run = models.ForeignKey(ReclassificationRun, on_delete=models.CASCADE, related_name="rules")
    rule_id = models.BigIntegerField()
    line_of_business = models.ForeignKey(LineOfBusiness, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=300)
    value_cents = models.BigIntegerField()
    customer_kind = models.CharField(max_length=10, blank=True, default="")
    born_on_or_before = models.DateField(null=True, blank=True)
    born_after = models.DateField(null=True, blank=True)
    homeowner = models.BooleanField(null=True)
    car_owner = models.BooleanField(null=True)
    has_children = models.BooleanField(null=True)
    occupations = models.CharField(max_length=200, blank=True, default="", help_text="',a,b,' or ''")
    marital_statuses = models.CharField(max_length=40, blank=True, default="")
    household_scope = models.BooleanField(default=False)
    per_car = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "rule_id"], name="runrule_unique")]

    def __str__(self) -> str:
        return self.label


class RunRevenue(models.Model):
    """Scratch rows of a run: every customer's revenue (in cents), aggregated over the ledger in
    one set-based statement before the chunks run (chunked by customer, the ledger could only be
    read by per-contract probes, which cost more than one pass). Deleted when the run finishes."""

    pk = models.CompositePrimaryKey("run", "customer_id")
    run = models.ForeignKey(ReclassificationRun, on_delete=models.CASCADE, related_name="+", **BULK_FK)
    customer_id = models.BigIntegerField()
    revenue_cents = models.BigIntegerField()

    def __str__(self) -> str:
        return f"run {self.run_id} customer {self.customer_id}"


class RunFigure(models.Model):
    """Scratch rows of a two-pass run: figures of phase 1, read and deleted by phase 2."""

    pk = models.CompositePrimaryKey("run", "customer_id")
    run = models.ForeignKey(ReclassificationRun, on_delete=models.CASCADE, related_name="+", **BULK_FK)
    customer_id = models.BigIntegerField()
    revenue_cents = models.BigIntegerField()
    potential_cents = models.BigIntegerField()
    biggest_gap_id = models.BigIntegerField(null=True)
    classified = models.BooleanField()

    def __str__(self) -> str:
        return f"run {self.run_id} customer {self.customer_id}"


class ClassChange(models.Model):
    """History: one row per customer and day on which the customer's class changed (the net
    change of that day: a run and a manual override on the same day merge into one row)."""

    class Source(models.TextChoices):
        COMPUTED = "computed", _("computed")
        OVERRIDE = "override", _("override")
        OVERRIDE_ENDED = "override_ended", _("override ended")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="class_changes", **BULK_FK)
    date = models.DateField(_("date"))
    old_class = models.CharField(_("old class"), max_length=1, blank=True, choices=Customer.Segment.choices)
    new_class = models.CharField(_("new class"), max_length=1, blank=True, choices=Customer.Segment.choices)
    computed_class = models.CharField(
        _("computed class"), max_length=1, blank=True, default="", choices=Customer.Segment.choices
    )
    revenue = models.DecimalField(_("revenue"), **MONEY)
    potential = models.DecimalField(_("potential"), **MONEY)
    policy = models.ForeignKey(
        SegmentationPolicy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="+", **BULK_FK
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    run = models.ForeignKey(
        ReclassificationRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="class_changes",
        db_constraint=False,
    )
    created_at = models.DateTimeField(_("recorded"))

    class Meta:
        verbose_name = _("class change")
        verbose_name_plural = _("class changes")
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "date"], name="classchange_one_per_customer_day"),
        ]
        indexes = [
            models.Index(fields=["date", "old_class", "new_class"], name="classchange_matrix_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.date:%d.%m.%Y} {self.old_class or '–'}→{self.new_class or '–'}"
