"""Service levels: the care each class has earned and the work that raises its potential.

Glossary: a `ServiceLevel` is the care standard of one class (A/B/C/O). A `CareActivity` is one
kind of planned work in it, on one of two tracks ("die zweigleisige Antwort"): earned care
(track 1, what the customer's revenue has earned) or potential work (track 2, what raises the
customer's potential). A `CareTask` is one planned occurrence of an activity for one customer.
Hauptfälligkeit = a contract's yearly main due date.

The owner (Inhaber) of the firm, who performs owner activities, is the first active user (lowest
id) in the group "Inhaber" — see `selectors.firm_owner`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from customers.models import Customer

from .querysets import CareTaskQuerySet

MONEY = {"max_digits": 14, "decimal_places": 2}
MAX_INTERVAL_MONTHS = 120
MAX_WEEKS_BEFORE = 52


class Track(models.TextChoices):
    CARE = "care", _("earned care")
    POTENTIAL = "potential", _("potential work")


class Recurrence(models.TextChoices):
    ON_ENTRY = "on_entry", _("on entering the class")
    EVERY_N_MONTHS = "every_n_months", _("every N months")
    BIRTHDAY = "birthday", _("yearly on the birthday")
    BEFORE_MAIN_DUE = "before_main_due", _("yearly before each contract's Hauptfälligkeit")
    PER_GAP = "per_gap", _("once per coverage gap")


class Channel(models.TextChoices):
    """The values of phone and e-mail equal those of `customers.MarketingConsent.Channel`."""

    MEETING = "meeting", _("meeting")
    PHONE = "phone", _("phone")
    LETTER = "letter", _("letter")
    EMAIL = "email", _("e-mail")


# Channels that need the customer's marketing consent (UWG § 7) when the activity is marketing.
CONSENT_CHANNELS = (Channel.PHONE, Channel.EMAIL)


class Performer(models.TextChoices):
    OWNER = "owner", _("owner")
    STAFF = "staff", _("staff")


class ServiceLevel(models.Model):
    """The care standard of one class; its planned work is the list of its activities."""

    segment = models.CharField(
        _("class"),
        max_length=1,
        unique=True,
        choices=[c for c in Customer.Segment.choices if c[0]],
    )
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(
        _("description"),
        blank=True,
        default="",
        help_text=_("What the level includes beyond the planned tasks, e.g. service on request."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("service level")
        verbose_name_plural = _("service levels")
        ordering = ["segment"]
        constraints = [
            models.CheckConstraint(
                condition=Q(segment__in=["A", "B", "C", "O"]), name="service_level_segment_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.segment}: {self.name}"


class CareActivity(models.Model):
    service_level = models.ForeignKey(
        ServiceLevel,
        verbose_name=_("class"),
        on_delete=models.CASCADE,
        related_name="activities",
    )
    name = models.CharField(_("name"), max_length=120)
    track = models.CharField(_("track"), max_length=10, choices=Track.choices, default=Track.CARE)
    recurrence = models.CharField(_("recurrence"), max_length=20, choices=Recurrence.choices)
    interval_months = models.PositiveSmallIntegerField(
        _("every … months"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_INTERVAL_MONTHS)],
        help_text=_("For “every N months”."),
    )
    weeks_before = models.PositiveSmallIntegerField(
        _("weeks before the Hauptfälligkeit"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_WEEKS_BEFORE)],
        help_text=_("For “yearly before each contract's Hauptfälligkeit”."),
    )
    days_after = models.PositiveSmallIntegerField(
        _("days after"),
        default=0,
        validators=[MaxValueValidator(365)],
        help_text=_(
            "For “on entering the class”: days after the class change. "
            "For “once per coverage gap”: days after the gap is first seen."
        ),
    )
    min_gap_value = models.DecimalField(
        _("minimum gap value"),
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("For coverage gaps: only gaps worth at least this expected commission a year."),
        **MONEY,
    )
    biggest_gap_only = models.BooleanField(
        _("biggest gap only"),
        default=False,
        help_text=_("For coverage gaps: only the customer's biggest gap."),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    marketing = models.BooleanField(
        _("marketing contact"),
        default=True,
        help_text=_(
            "A marketing phone call or e-mail needs the customer's consent for that channel; "
            "without it the task falls back to a letter."
        ),
    )
    minutes = models.PositiveSmallIntegerField(
        _("minutes"), validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    performer = models.CharField(
        _("performed by"), max_length=10, choices=Performer.choices, default=Performer.STAFF
    )
    instruction = models.TextField(_("instruction"), blank=True, default="")
    active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive activities are not planned; open tasks are cancelled."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("care activity")
        verbose_name_plural = _("care activities")
        ordering = ["service_level__segment", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(minutes__gt=0), name="care_activity_minutes_positive"),
            models.CheckConstraint(
                condition=~Q(recurrence="every_n_months")
                | Q(
                    interval_months__isnull=False,
                    interval_months__gte=1,
                    interval_months__lte=MAX_INTERVAL_MONTHS,
                ),
                name="care_activity_interval_valid",
            ),
            models.CheckConstraint(
                condition=~Q(recurrence="before_main_due")
                | Q(weeks_before__isnull=False, weeks_before__gte=1, weeks_before__lte=MAX_WEEKS_BEFORE),
                name="care_activity_weeks_before_valid",
            ),
            models.CheckConstraint(
                condition=Q(min_gap_value__gte=0), name="care_activity_min_gap_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.minutes is not None and self.minutes <= 0:
            errors["minutes"] = _("Minutes must be more than 0.")
        if self.recurrence == Recurrence.EVERY_N_MONTHS and not self.interval_months:
            errors["interval_months"] = _("Give the interval in months: at least 1.")
        if self.recurrence == Recurrence.BEFORE_MAIN_DUE and not self.weeks_before:
            errors["weeks_before"] = _("Give how many weeks before the Hauptfälligkeit: at least 1.")
        if errors:
            raise ValidationError(errors)

    @property
    def recurrence_text(self) -> str:
        if self.recurrence == Recurrence.EVERY_N_MONTHS:
            return _("every %(n)s months") % {"n": self.interval_months}
        if self.recurrence == Recurrence.BEFORE_MAIN_DUE:
            return _("yearly, %(n)s weeks before each Hauptfälligkeit") % {"n": self.weeks_before}
        if self.recurrence == Recurrence.ON_ENTRY and self.days_after:
            return _("%(n)s days after entering the class") % {"n": self.days_after}
        if self.recurrence == Recurrence.PER_GAP:
            scope = _("biggest coverage gap") if self.biggest_gap_only else _("coverage gap")
            if self.min_gap_value:
                return _("once per %(scope)s from %(value)s €, after %(n)s days") % {
                    "scope": scope,
                    "value": number_format(self.min_gap_value, decimal_pos=2, force_grouping=True),
                    "n": self.days_after,
                }
            return _("once per %(scope)s, after %(n)s days") % {"scope": scope, "n": self.days_after}
        return self.get_recurrence_display()


class CostSettings(models.Model):
    """The cost model (one row): hourly rates, the healthy share of revenue, the stint assumption."""

    owner_hourly_rate = models.DecimalField(
        _("owner's hourly rate (€)"),
        default=Decimal("150.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Opportunity cost: what the owner's hour would earn elsewhere."),
        **MONEY,
    )
    staff_hourly_rate = models.DecimalField(
        _("staff hourly rate (€)"),
        default=Decimal("45.00"),
        validators=[MinValueValidator(Decimal("0"))],
        **MONEY,
    )
    max_cost_share = models.DecimalField(
        _("healthy care cost share of revenue (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("25.00"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
        help_text=_("A class whose yearly care cost exceeds this share of its revenue is flagged."),
    )
    assumed_years_in_class = models.DecimalField(
        _("assumed years in a class"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("3.0"),
        validators=[MinValueValidator(Decimal("0.1"))],
        help_text=_("“On entering the class” work counts once per this many years."),
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("cost settings")
        verbose_name_plural = _("cost settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(owner_hourly_rate__gte=0), name="cost_owner_rate_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(staff_hourly_rate__gte=0), name="cost_staff_rate_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(max_cost_share__gt=0, max_cost_share__lte=100), name="cost_share_range"
            ),
            models.CheckConstraint(condition=Q(assumed_years_in_class__gt=0), name="cost_years_positive"),
        ]

    def __str__(self) -> str:
        return str(_("cost settings"))

    @classmethod
    def load(cls) -> CostSettings:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj

    def rate_for(self, performer: str) -> Decimal:
        return self.owner_hourly_rate if performer == Performer.OWNER else self.staff_hourly_rate


class WeeklyCapacity(models.Model):
    """Minutes a person can spend on care tasks per week, set by the owner."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="care_capacity",
        verbose_name=_("user"),
    )
    minutes_per_week = models.PositiveIntegerField(
        _("minutes per week"), default=0, validators=[MaxValueValidator(7 * 24 * 60)]
    )

    class Meta:
        verbose_name = _("weekly capacity")
        verbose_name_plural = _("weekly capacities")
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes_per_week__lte=7 * 24 * 60), name="capacity_within_week"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.minutes_per_week}"


class CareTask(models.Model):
    """One planned occurrence of a care activity for one customer.

    The series of a task is (customer, activity, scope_key): scope_key is the contract id for
    Hauptfälligkeit work, the line of business id for gap work, else 0. `occurrence` names the
    occurrence within the series (the class entry date, the due date, the Hauptfälligkeit). Two
    partial unique keys make planning idempotent: one task per occurrence (cancelled ones aside),
    and at most one open task per series.

    Planning inserts hundreds of thousands of rows a night, so the table keeps few indexes: the
    two keys, the worklist's and the workload's partial indexes, and the foreign keys that are
    searched (customer, contract). The columns planning writes (customer, activity,
    contract, line of business, assignee) have no database foreign key: planning inserts them
    from joins with the rows they point to, and Django enforces on_delete; the per-row checks
    of database foreign keys cost as much as the insert itself (measured on PostgreSQL, as the
    segmentation app found for its bulk rows).

    Kept so (reviewed with incremental planning, issue #4): a quiet night now inserts only a few
    thousand rows, but a full pass — the first planning of a book, and every catalogue change —
    still writes one row per series of the whole book (~3.7 million at 1M customers), and that
    run must not double. Integrity does not depend on the keys: every planned row comes from a
    join with the rows it names in the same statement, deletes go through Django's collector
    (CASCADE/PROTECT/SET_NULL as declared), and `PlanningState` is keyed the same way.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")
        SKIPPED = "skipped", _("skipped")
        CANCELLED = "cancelled", _("cancelled by reclassification")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="care_tasks",
        db_constraint=False,
    )
    activity = models.ForeignKey(
        CareActivity,
        verbose_name=_("activity"),
        on_delete=models.PROTECT,
        related_name="tasks",
        db_constraint=False,
        # No index of its own: planning writes hundreds of thousands of rows a night and every
        # index costs each of them; open tasks of an activity are found through the worklist's
        # partial indexes, and only deleting an activity (admin; PROTECT) reads all its tasks.
        db_index=False,
    )
    contract = models.ForeignKey(
        "customers.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="care_tasks",
        db_index=False,  # a partial index below: most tasks have no contract
        db_constraint=False,
    )
    line_of_business = models.ForeignKey(
        "customers.LineOfBusiness",
        verbose_name=_("coverage gap"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # Sparten are a code table, never deleted
        db_constraint=False,
    )
    scope_key = models.BigIntegerField(default=0, editable=False)
    occurrence = models.DateField(_("occurrence"), editable=False)
    due_date = models.DateField(_("due"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="care_tasks",
        db_index=False,  # open tasks are found by the partial (assignee, due) index
        db_constraint=False,
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    fallback_from = models.CharField(
        _("planned channel without consent"), max_length=10, choices=Channel.choices, blank=True, default=""
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    outcome = models.TextField(_("outcome"), blank=True, default="")
    planned_on = models.DateField(_("planned on"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    logged_activity = models.ForeignKey(
        "customers.Activity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # set once, on completion; contact-log entries are rarely deleted
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = CareTaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("care task")
        verbose_name_plural = _("care tasks")
        ordering = ["due_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "activity", "scope_key", "occurrence"],
                condition=~Q(status="cancelled"),
                name="care_task_one_per_occurrence",
            ),
            # One open task per series: planning never stacks a second occurrence on an
            # unfinished one (and relies on this key, not on a query, to skip it).
            models.UniqueConstraint(
                fields=["customer", "activity", "scope_key"],
                condition=Q(status="open"),
                name="care_task_one_open_per_series",
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | (~Q(status="open") & Q(closed_at__isnull=False)),
                name="care_task_closed_at_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "done", "skipped", "cancelled"]),
                name="care_task_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["assignee", "due_date"],
                condition=Q(status="open"),
                name="care_task_open_assignee_idx",
            ),
            models.Index(fields=["due_date"], condition=Q(status="open"), name="care_task_open_due_idx"),
            models.Index(
                fields=["contract"], condition=Q(contract__isnull=False), name="care_task_contract_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.activity} – {self.customer} ({self.due_date:%d.%m.%Y})"

    @property
    def fallback_note(self) -> str:
        if not self.fallback_from:
            return ""
        return _("No marketing consent for %(channel)s: send a letter instead.") % {
            "channel": Channel(self.fallback_from).label
        }

    def is_overdue(self, today: dt.date) -> bool:
        return self.status == self.Status.OPEN and self.due_date < today


class PlanningRun(models.Model):
    """One planning run over the book (not the targeted runs after an override).

    The newest finished run is the starting point of the next incremental run: the customers
    whose planning inputs changed since its start (`started_at`; also the `now` written to the
    tasks it created and cancelled) are planned again, see `planning.dirty_customers_sql`. A
    run is full when there is no such run, the catalogue changed (`catalogue` is a digest of
    the columns planning reads), the day went backwards, or it was asked for."""

    as_of = models.DateField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    full = models.BooleanField(default=True)
    catalogue = models.CharField(max_length=64)
    # The highest segmentation.PotentialComponent id at the start: newer gap rows are changes.
    component_id = models.BigIntegerField(default=0)
    customers = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("planning run")
        verbose_name_plural = _("planning runs")
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"{self.as_of:%d.%m.%Y} ({self.started_at:%d.%m.%Y %H:%M})"


class PlanningState(models.Model):
    """Per customer: the customer columns its last planning read, and the day from which time
    alone can change its plan (`wake_on`: a Hauptfälligkeit, birthday or step of a task done
    ahead of its date passes, a contract ends, a consent starts). An incremental run plans a
    customer again when a column differs, `wake_on` has come, or a contract, consent, gap or
    task of the customer changed (see `planning`). One row per planned customer, written by
    planning itself; a missing row means "never planned"."""

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    segment = models.CharField(max_length=1, blank=True, default="")
    status = models.CharField(max_length=10, blank=True, default="")
    segment_since = models.DateField(null=True, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    biggest_gap_id = models.BigIntegerField(null=True, blank=True)
    restricted = models.BooleanField(default=False)
    # The customer's gap rows (segmentation.PotentialComponent): a row deleted changes the count.
    gaps = models.PositiveIntegerField(default=0)
    wake_on = models.DateField(null=True, blank=True)
    planned_on = models.DateField()

    class Meta:
        verbose_name = _("planning state")
        verbose_name_plural = _("planning states")

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.segment} ({self.planned_on:%d.%m.%Y})"
