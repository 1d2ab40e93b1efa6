"""Customers, households, insurers, lines of business (GDV Sparten), contracts, the Courtage
ledger and the contact log.

Glossary: Sparte = GDV line-of-business code; Courtage = the broker's commission from the
insurer (claw-backs, Stornohaftung, are negative bookings); Hauptfälligkeit = the contract's
yearly main due date, from which the notice period counts back to the cancellation deadline.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from . import gdv
from .querysets import BY_NAME, FIRST_NAME_KEY, NAME_KEY, PLZ_REGION, ContractQuerySet, CustomerQuerySet
from .querysets import name_key as spelled_out_key
from .validators import validate_not_future

MONEY = {"max_digits": 14, "decimal_places": 2}


class TimeStamped(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class Household(TimeStamped):
    """Customers living together; revenue and potential can be shown per household."""

    name = models.CharField(_("name"), max_length=200)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Insurer(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    vu_number = models.CharField(
        _("GDV VU number"),
        max_length=5,
        blank=True,
        default="",
        help_text=_("Five-digit GDV insurer number."),
    )

    class Meta:
        verbose_name = _("insurer")
        verbose_name_plural = _("insurers")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["vu_number"], condition=~Q(vu_number=""), name="insurer_vu_number_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class LineOfBusiness(models.Model):
    """A GDV Sparte (loaded from the GDV Spartenverzeichnis by a data migration)."""

    code = models.CharField(_("code"), max_length=6, unique=True)
    name = models.CharField(_("name"), max_length=300)
    short_name = models.CharField(_("short name"), max_length=60)
    gdv_code = models.CharField(_("GDV Sparte"), max_length=3)
    is_gdv = models.BooleanField(_("GDV code"), default=True)

    class Meta:
        verbose_name = _("line of business")
        verbose_name_plural = _("lines of business")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.short_name}"


class Customer(TimeStamped):
    class Kind(models.TextChoices):
        PERSON = "person", _("person")
        COMPANY = "company", _("company")

    class Status(models.TextChoices):
        PROSPECT = "prospect", _("prospect")
        ACTIVE = "active", _("active")
        FORMER = "former", _("former")

    class Occupation(models.TextChoices):
        UNKNOWN = "", _("unknown")
        EMPLOYED = "employed", _("employed")
        SELF_EMPLOYED = "self_employed", _("self-employed")
        CIVIL_SERVANT = "civil_servant", _("civil servant")
        STUDENT = "student", _("in education")
        RETIRED = "retired", _("retired")
        NOT_WORKING = "not_working", _("not working")

    class Segment(models.TextChoices):
        NONE = "", _("not classified")
        A = "A", "A"
        B = "B", "B"
        C = "C", "C"
        O = "O", "O"  # noqa: E741

    number = models.CharField(_("customer number"), max_length=20, unique=True)
    # The number in upper case, as the search compares it (any case), stored: upper-casing every
    # number a search walks past cost as much as reading the customer.
    number_key = models.GeneratedField(
        expression=Upper("number"), output_field=models.TextField(), db_persist=True, editable=False
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PERSON)
    salutation = models.CharField(_("salutation"), max_length=1, choices=gdv.SALUTATIONS, default="0")
    title = models.CharField(_("title"), max_length=40, blank=True, default="")
    first_name = models.CharField(_("first name"), max_length=100, blank=True, default="")
    name = models.CharField(_("last name / company"), max_length=200)
    # The names as the customer list sorts and searches them (querysets.name_key), kept by the
    # database itself: a plain column is planned and compared far faster than the expression.
    name_key = models.GeneratedField(
        expression=spelled_out_key("name"), output_field=models.TextField(), db_persist=True, editable=False
    )
    first_name_key = models.GeneratedField(
        expression=spelled_out_key("first_name"),
        output_field=models.TextField(),
        db_persist=True,
        editable=False,
    )
    birth_date = models.DateField(
        _("birth date / founded"), null=True, blank=True, validators=[validate_not_future]
    )
    email = models.EmailField(_("e-mail"), blank=True, default="")
    phone = models.CharField(_("phone"), max_length=40, blank=True, default="")
    street = models.CharField(_("street"), max_length=200, blank=True, default="")
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True, default="", db_index=True)
    city = models.CharField(_("city"), max_length=100, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, default="DE", help_text=_("ISO code, e.g. DE"))
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("advisor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="advised_customers",
        db_index=False,  # customer_advisor_idx
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    referred_by = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
    )
    # Needs profile: what recommendation rules look at.
    occupation = models.CharField(
        _("occupation"), max_length=20, choices=Occupation.choices, blank=True, default=""
    )
    marital_status = models.CharField(
        _("marital status"), max_length=1, choices=gdv.MARITAL_STATUSES, blank=True, default=""
    )
    homeowner = models.BooleanField(_("homeowner"), default=False)
    cars = models.PositiveSmallIntegerField(_("cars"), default=0, validators=[MaxValueValidator(50)])
    children = models.PositiveSmallIntegerField(_("children"), default=0, validators=[MaxValueValidator(30)])
    # Segmentation result, kept on the customer so lists filter and sort by it
    # (written set-based by the segmentation job).
    segment = models.CharField(_("class"), max_length=1, choices=Segment.choices, blank=True, default="")
    revenue = models.DecimalField(_("revenue"), default=Decimal("0"), editable=False, **MONEY)
    potential = models.DecimalField(_("potential"), default=Decimal("0"), editable=False, **MONEY)
    biggest_gap = models.ForeignKey(
        LineOfBusiness,
        verbose_name=_("biggest gap"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # customer_gap_segment_idx
    )
    segment_since = models.DateField(_("in this class since"), null=True, blank=True, editable=False)
    classified_at = models.DateField(_("classified on"), null=True, blank=True, editable=False)
    # Optimistic locking: a save must name the version it was edited from.
    version = models.PositiveIntegerField(default=1, editable=False)
    # Data protection (see customers/privacy.py): an erasure request (Art. 17 DSGVO) anonymises
    # the personal data and restricts (Art. 18) what a retention duty keeps until
    # `retention_until`; a restricted customer is locked from use (`Customer.objects.usable()`).
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True, editable=False)
    restricted_at = models.DateField(_("restricted since"), null=True, blank=True, editable=False)
    retention_until = models.DateField(_("retained until"), null=True, blank=True, editable=False)

    objects = CustomerQuerySet.as_manager()
    # The segmentation columns are rewritten by the nightly job (set-based) and have their own
    # history (segmentation.ClassChange), so they are not part of the audit trail.
    history = HistoricalRecords(
        excluded_fields=[
            "revenue",
            "potential",
            "biggest_gap",
            "classified_at",
            "segment_since",
            "segment",
            "name_key",
            "first_name_key",
            "number_key",
        ]
    )

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = list(BY_NAME)
        indexes = [
            models.Index(fields=["city"], name="customer_city_idx"),
            models.Index(fields=["number_key"], name="customer_number_key_idx"),
            # The list's sort orders, with the id as tie-breaker, so a sorted page is an index
            # range scan (no sort, and no parallel query for 50 rows).
            models.Index(fields=["segment", "revenue", "id"], name="customer_segment_revenue_idx"),
            models.Index(fields=["segment", "potential", "id"], name="customer_segment_potential_idx"),
            models.Index(fields=["revenue", "id"], name="customer_revenue_idx"),
            models.Index(fields=["potential", "id"], name="customer_potential_idx"),
            models.Index(fields=["status"], name="customer_status_idx"),
            # An advisor's customers in id order with the conditions every list has: a filtered
            # list's count meets the contracts' index in the same order (merge join) without
            # reading the table (advisor + "holds Hausrat" at 1,000,000 customers: 14.5 -> 1.6 ms).
            models.Index(
                fields=["advisor", "id"], name="customer_advisor_idx", include=["restricted_at", "status"]
            ),
            # A biggest gap's customers by class with the conditions of the list's filters (usable,
            # PLZ): the count line of a class and gap drill-down (class O, gap BU, PLZ 0…) reads
            # the index alone instead of the table (1,000,000 customers: 11-13 -> 1.6-1.8 ms).
            # Not by potential: sorted so, the list walks customer_segment_potential_idx faster.
            models.Index(
                fields=["biggest_gap", "segment"],
                name="customer_gap_segment_idx",
                include=["restricted_at", "postal_code"],
            ),
            # The customer list sorted by name, and a search word at a name's start found in that
            # order (CustomerQuerySet.search, CustomerTable.order_name). With the two conditions
            # every list has (usable, mostly active), so the count line counts a name's range
            # from the index alone (selectors.capped_count: 0.4 ms for "Müller" instead of a
            # table scan of 11 ms at 1,000,000 customers). SQLite has no such columns (W040).
            models.Index(
                NAME_KEY,
                FIRST_NAME_KEY,
                "id",
                name="customer_name_key_idx",
                include=["restricted_at", "status"],
            ),
            # A PLZ area sorted by name (CustomerQuerySet.postal_code_starting).
            models.Index(PLZ_REGION, NAME_KEY, FIRST_NAME_KEY, "id", name="customer_plz_region_name_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(referred_by=models.F("id")), name="customer_not_referring_self"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="customer_name_required"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name_for_display(self.kind, self.name, self.first_name)

    @classmethod
    def name_for_display(cls, kind: str, name: str, first_name: str) -> str:
        """ "Name, First name" for a person, the name alone for a company (also for list rows
        read as plain values)."""
        if kind == cls.Kind.COMPANY or not first_name:
            return name
        return f"{name}, {first_name}"

    @property
    def is_restricted(self) -> bool:
        return self.restricted_at is not None

    def age_on(self, day: dt.date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


class MarketingConsent(TimeStamped):
    """Consent to marketing contact per channel (UWG § 7): when, how, and which wording."""

    class Channel(models.TextChoices):
        POST = "post", _("post")
        EMAIL = "email", _("e-mail")
        PHONE = "phone", _("phone")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    granted_on = models.DateField(_("granted on"), validators=[validate_not_future])
    source = models.CharField(_("source"), max_length=200, help_text=_("e.g. signed form, web form"))
    wording = models.TextField(_("wording"), blank=True, default="")
    withdrawn_on = models.DateField(_("withdrawn on"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("marketing consent")
        verbose_name_plural = _("marketing consents")
        ordering = ["channel"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "channel"], name="consent_one_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} ({self.granted_on:%d.%m.%Y})"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_on is None


class Contract(TimeStamped):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contracts"
    )
    insurer = models.ForeignKey(
        Insurer, verbose_name=_("insurer"), on_delete=models.PROTECT, related_name="contracts"
    )
    line_of_business = models.ForeignKey(
        LineOfBusiness, verbose_name=_("line of business"), on_delete=models.PROTECT, related_name="contracts"
    )
    policy_number = models.CharField(_("policy number"), max_length=40)
    status = models.CharField(_("status"), max_length=1, choices=gdv.CONTRACT_STATUSES, default="1")
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end (Ablauf)"), null=True, blank=True)
    main_due_date = models.DateField(
        _("main due date (Hauptfälligkeit)"),
        help_text=_("Day and month recur every year; the notice period counts back from it."),
    )
    notice_period_months = models.PositiveSmallIntegerField(
        _("notice period (months)"), default=3, validators=[MinValueValidator(0), MaxValueValidator(12)]
    )
    payment_frequency = models.CharField(
        _("payment frequency"), max_length=1, choices=gdv.PAYMENT_FREQUENCIES, default="1"
    )
    annual_premium = models.DecimalField(
        _("annual net premium"), validators=[MinValueValidator(Decimal("0"))], **MONEY
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = ContractQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["customer_id", "line_of_business__code", "id"]
        indexes = [
            # With the status: "holds an active contract in this line" (CustomerQuerySet.holding_line)
            # is answered from the index alone.
            models.Index(
                fields=["customer", "line_of_business"], name="contract_customer_line_idx", include=["status"]
            ),
            models.Index(fields=["status"], name="contract_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["insurer", "policy_number"], name="contract_policy_unique_per_insurer"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="contract_end_after_start",
            ),
            models.CheckConstraint(condition=Q(annual_premium__gte=0), name="contract_premium_not_negative"),
            models.CheckConstraint(
                condition=Q(notice_period_months__lte=12), name="contract_notice_period_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_number} ({self.line_of_business.short_name}, {self.insurer})"

    @property
    def is_active(self) -> bool:
        return self.status in gdv.ACTIVE_CONTRACT_STATUSES

    def next_main_due(self, today: dt.date | None = None) -> dt.date:
        """The next Hauptfälligkeit on or after today (29.02. falls on 28.02. in other years)."""
        today = today or timezone.localdate()
        for year in (today.year, today.year + 1):
            due = _anniversary(self.main_due_date, year)
            if due >= today:
                return due
        raise AssertionError("unreachable")

    def cancellation_deadline(self, today: dt.date | None = None) -> dt.date:
        """Last day to give notice for the next Hauptfälligkeit that can still be cancelled."""
        today = today or timezone.localdate()
        due = self.next_main_due(today)
        deadline = _months_before(due, self.notice_period_months)
        if deadline < today:
            deadline = _months_before(
                _anniversary(self.main_due_date, due.year + 1), self.notice_period_months
            )
        return deadline


def _anniversary(date: dt.date, year: int) -> dt.date:
    try:
        return date.replace(year=year)
    except ValueError:  # 29.02. in a common year
        return date.replace(year=year, day=28)


def _months_before(date: dt.date, months: int) -> dt.date:
    month_index = date.year * 12 + (date.month - 1) - months
    year, month = divmod(month_index, 12)
    month += 1
    import calendar

    day = min(date.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day)


class CommissionBooking(models.Model):
    """One line of the Courtage ledger. Claw-backs (Stornohaftung) are negative amounts.

    Bookings are accounting records (kept 8 years, § 257 HGB), so a contract that has
    bookings cannot be deleted: it is cancelled (status storniert) instead (PROTECT).
    """

    class Kind(models.TextChoices):
        ACQUISITION = "acquisition", _("acquisition (Abschlusscourtage)")
        RECURRING = "recurring", _("recurring (Bestandscourtage)")
        CLAWBACK = "clawback", _("claw-back (Storno)")

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="bookings"
    )
    booked_on = models.DateField(_("booking date"))
    amount = models.DecimalField(_("amount"), **MONEY)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.RECURRING)
    statement_reference = models.CharField(_("statement reference"), max_length=60, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("commission booking")
        verbose_name_plural = _("commission bookings")
        ordering = ["-booked_on", "-id"]
        indexes = [models.Index(fields=["contract", "booked_on"], name="booking_contract_date_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="clawback", amount__lt=0) | (~Q(kind="clawback") & Q(amount__gt=0))),
                name="booking_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.booked_on:%d.%m.%Y} {self.amount} €"


class Activity(models.Model):
    """The contact log: call, meeting, letter, e-mail or note, with who, when and what."""

    class Kind(models.TextChoices):
        CALL = "call", _("call")
        MEETING = "meeting", _("meeting")
        LETTER = "letter", _("letter")
        EMAIL = "email", _("e-mail")
        NOTE = "note", _("note")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="activities"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.CALL)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    subject = models.CharField(_("subject"), max_length=200)
    notes = models.TextField(_("notes"), blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activities",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="activity_customer_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class PrivacyRequest(models.Model):
    """A data subject's request under the DSGVO and how it was answered (accountability,
    Art. 5(2)): an access request (Art. 15) answered with the export, or an erasure request
    (Art. 17) with its reason, what was erased and until when the rest is retained.

    The row outlives the customer: once the purge has deleted the retained data, only the
    customer number remains here, as proof that the request was carried out."""

    class Kind(models.TextChoices):
        ACCESS = "access", _("access (Art. 15)")
        ERASURE = "erasure", _("erasure (Art. 17)")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="privacy_requests",
    )
    customer_number = models.CharField(_("customer number"), max_length=20)
    received_on = models.DateField(_("request received on"), validators=[validate_not_future])
    reason = models.TextField(_("reason"), blank=True, default="")
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    retention_until = models.DateField(_("retained until"), null=True, blank=True)
    completed_at = models.DateTimeField(_("carried out"), default=timezone.now)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    purged_at = models.DateTimeField(_("retained data deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("data protection request")
        verbose_name_plural = _("data protection requests")
        ordering = ["-completed_at", "-id"]
        indexes = [models.Index(fields=["-completed_at", "-id"], name="privacyrequest_completed_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["access", "erasure"]), name="privacyrequest_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind="erasure") | ~Q(reason=""), name="privacyrequest_erasure_reason_required"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.customer_number} ({self.received_on:%d.%m.%Y})"


class OfficeSettings(models.Model):
    """Firm-wide settings of the office (one row), edited by the owner."""

    staff_sees_own_customers_only = models.BooleanField(
        _("office staff see only the customers they advise"),
        default=False,
        help_text=_(
            "When on, office staff find, open and edit only customers whose advisor they are, with "
            "their contracts; the owner always sees the whole book."
        ),
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("office settings")
        verbose_name_plural = _("office settings")

    def __str__(self) -> str:
        return str(_("office settings"))

    @classmethod
    def load(cls) -> OfficeSettings:
        """The settings in force; the defaults (unsaved) until the owner first saves them."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


def _audit_values_not_expressions(sender, instance, history_instance, **kwargs) -> None:
    """A save that sets an expression (the admin's `version = F("version") + 1`) leaves the
    expression on the instance; the audit row takes the value just written to the row instead."""
    pending = [
        f.attname
        for f in getattr(sender, "tracked_fields", ())
        if isinstance(getattr(history_instance, f.attname, None), models.expressions.BaseExpression)
    ]
    if pending:
        instance.refresh_from_db(fields=pending)
        for name in pending:
            setattr(history_instance, name, getattr(instance, name))


pre_create_historical_record.connect(_audit_values_not_expressions, dispatch_uid="customers_audit_values")
