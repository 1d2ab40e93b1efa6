"""Aggregates behind the owner's dashboards, taken once per finished reclassification run.

The dashboard page reads these few hundred rows instead of scanning a book of a million
customers. `services.snapshot_take(run=…)` writes them, set-based (INSERT … SELECT … GROUP BY),
at the end of each run; the figures on the page are "as of" that run.

- `ClassSnapshot`: per class and advisor the customers, revenue and potential (kept for every
  run: the run history of the class matrix).
- `DensityBin`: the revenue × potential plane cut into BINS × BINS cells, per class and advisor
  (and summed over all advisors, ``all_advisors``, so the unfiltered page reads few rows).
- `ClassFlow`: the class history (`segmentation.ClassChange`) summed per month, transition and
  (current) advisor; with the class counts of the snapshot it gives the class counts at the end
  of every month.
- `CareDay`: care tasks per day, class of the activity, activity, assignee and advisor of the
  customer: planned (due that day), done and skipped (closed that day), overdue (due that day and
  still open when the snapshot was taken); also summed over all advisors.

Only the latest snapshot keeps its bins, flows and care days; older snapshots keep their class
rows.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import MONEY, Customer
from segmentation.models import ReclassificationRun

SEGMENT = {"max_length": 1, "blank": True, "choices": Customer.Segment.choices}


def _advisor(**kwargs) -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", **kwargs
    )


class RunSnapshot(models.Model):
    run = models.OneToOneField(
        ReclassificationRun,
        verbose_name=_("run"),
        on_delete=models.CASCADE,
        related_name="dashboard_snapshot",
    )
    taken_at = models.DateTimeField(_("taken"))
    taken_on = models.DateField(
        _("taken on"), help_text=_("Open tasks due before this day count as overdue.")
    )
    seconds = models.FloatField(_("seconds to take"), default=0)
    bins = models.PositiveSmallIntegerField(_("bins per axis"))
    revenue_low = models.DecimalField(_("revenue axis from"), **MONEY)
    revenue_high = models.DecimalField(_("revenue axis to"), **MONEY)
    potential_low = models.DecimalField(_("potential axis from"), **MONEY)
    potential_high = models.DecimalField(_("potential axis to"), **MONEY)
    cost_statistics = models.JSONField(
        _("cost model statistics"),
        default=dict,
        blank=True,
        help_text=_("Per class: active customers, average revenue, contracts and gaps per customer."),
    )

    class Meta:
        verbose_name = _("dashboard snapshot")
        verbose_name_plural = _("dashboard snapshots")
        ordering = ["-taken_at", "-id"]

    def __str__(self) -> str:
        return f"{self.run} @ {self.taken_at:%d.%m.%Y %H:%M}"

    def bin_range(self, axis: str, index: int) -> tuple[Decimal, Decimal]:
        """[low, high) of bin ``index`` on ``axis`` ("revenue" or "potential"); the first bin
        also holds everything below the axis, the last everything above it."""
        low = getattr(self, f"{axis}_low")
        high = getattr(self, f"{axis}_high")
        width = (high - low) / self.bins
        return (low + width * index).quantize(Decimal("0.01")), (low + width * (index + 1)).quantize(
            Decimal("0.01")
        )


class ClassSnapshot(models.Model):
    snapshot = models.ForeignKey(RunSnapshot, on_delete=models.CASCADE, related_name="classes")
    segment = models.CharField(_("class"), **SEGMENT)
    advisor = _advisor(db_index=False)
    customers = models.PositiveIntegerField(_("customers"))
    active_customers = models.PositiveIntegerField(_("active customers"))
    revenue = models.DecimalField(_("revenue"), **MONEY)
    potential = models.DecimalField(_("potential"), **MONEY)
    customers_day_before = models.PositiveIntegerField(
        _("customers at the end of the day before"),
        default=0,
        help_text=_(
            "In the class at the end of the day before the snapshot day: history rows of earlier days "
            "no longer change, so class counts at any date follow from this and those rows."
        ),
    )

    class Meta:
        verbose_name = _("class snapshot")
        verbose_name_plural = _("class snapshots")
        indexes = [models.Index(fields=["snapshot", "advisor"], name="dash_classsnap_snap_adv_idx")]

    def __str__(self) -> str:
        return f"{self.segment or '–'}: {self.customers}"


class DensityBin(models.Model):
    snapshot = models.ForeignKey(RunSnapshot, on_delete=models.CASCADE, related_name="bins_set")
    segment = models.CharField(_("class"), **SEGMENT)
    advisor = _advisor(db_index=False)
    all_advisors = models.BooleanField(_("sum over all advisors"), default=False, db_default=False)
    x = models.PositiveSmallIntegerField(_("revenue bin"))
    y = models.PositiveSmallIntegerField(_("potential bin"))
    customers = models.PositiveIntegerField(_("customers"))

    class Meta:
        indexes = [models.Index(fields=["snapshot", "all_advisors", "advisor"], name="dash_bin_snap_adv_idx")]

    def __str__(self) -> str:
        return f"{self.segment} ({self.x}, {self.y}): {self.customers}"


class ClassFlow(models.Model):
    snapshot = models.ForeignKey(RunSnapshot, on_delete=models.CASCADE, related_name="flows")
    month = models.DateField(_("month"), help_text=_("First day of the month."))
    old_class = models.CharField(_("old class"), **SEGMENT)
    new_class = models.CharField(_("new class"), **SEGMENT)
    advisor = _advisor(db_index=False)
    customers = models.PositiveIntegerField(_("customers"))

    class Meta:
        indexes = [models.Index(fields=["snapshot", "month"], name="dash_flow_snap_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%m.%Y} {self.old_class or '–'}→{self.new_class or '–'}: {self.customers}"


class CareDay(models.Model):
    snapshot = models.ForeignKey(RunSnapshot, on_delete=models.CASCADE, related_name="care_days")
    date = models.DateField(_("date"))
    segment = models.CharField(_("class"), **SEGMENT)
    activity = models.ForeignKey(
        "servicelevels.CareActivity", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    assignee = _advisor(db_index=False)
    advisor = _advisor(db_index=False)
    all_advisors = models.BooleanField(_("sum over all advisors"), default=False, db_default=False)
    planned = models.PositiveIntegerField(_("planned"), default=0, db_default=0)
    done = models.PositiveIntegerField(_("done"), default=0, db_default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0, db_default=0)
    overdue = models.PositiveIntegerField(_("overdue"), default=0, db_default=0)

    class Meta:
        indexes = [
            models.Index(fields=["snapshot", "all_advisors", "date"], name="dash_careday_snap_date_idx")
        ]

    def __str__(self) -> str:
        return f"{self.date:%d.%m.%Y} {self.segment}: {self.planned}/{self.done}"
