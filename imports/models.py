"""Import jobs and the insurers' customer numbers learnt from GDV files.

An `ImportJob` holds one uploaded file and everything the flow needs between requests: the
bytes, the detected encoding and delimiter, the column mapping, the outcome of the dry run
(counts, every error with row, column and reason) and the progress of a running check or
import. The CRM tables are written only when the owner confirms, in one transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Insurer


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("customers")
        CONTRACTS = "contracts", _("contracts")
        BOOKINGS = "bookings", _("commission bookings")
        GDV = "gdv", _("GDV file (VU-Vermittler)")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"
        GDV = "gdv", "GDV"

    class Status(models.TextChoices):
        MAPPING = "mapping", _("waiting for the column mapping")
        CHECKING = "checking", _("checking")
        READY = "ready", _("ready to import")
        INVALID = "invalid", _("has errors")
        IMPORTING = "importing", _("importing")
        DONE = "done", _("imported")
        FAILED = "failed", _("failed")

    RUNNING = (Status.CHECKING, Status.IMPORTING)

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.MAPPING)
    file_name = models.CharField(_("file"), max_length=255)
    file_format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    file_size = models.PositiveBigIntegerField(_("size (bytes)"))
    content = models.BinaryField(editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True, default="")
    delimiter = models.CharField(_("delimiter"), max_length=1, blank=True, default="")
    headers = models.JSONField(_("columns in the file"), default=list, blank=True)
    sample = models.JSONField(default=list, blank=True, help_text="First rows, for the mapping step.")
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    checks = models.JSONField(_("checks"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    warning_count = models.PositiveIntegerField(_("warnings"), default=0)
    message = models.TextField(_("message"), blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    checked_at = models.DateTimeField(_("checked"), null=True, blank=True)
    imported_at = models.DateTimeField(_("imported"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at"], name="importjob_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(processed_rows__lte=models.F("total_rows")) | models.Q(total_rows=0),
                name="importjob_processed_within_total",
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_kind_display()})"

    def get_absolute_url(self) -> str:
        return reverse("imports:job", kwargs={"pk": self.pk})

    @property
    def is_running(self) -> bool:
        return self.status in self.RUNNING

    @property
    def is_gdv(self) -> bool:
        return self.kind == self.Kind.GDV

    @property
    def can_confirm(self) -> bool:
        return self.status == self.Status.READY

    @property
    def status_css(self) -> str:
        return {
            self.Status.READY: "success",
            self.Status.DONE: "success",
            self.Status.INVALID: "danger",
            self.Status.FAILED: "danger",
            self.Status.CHECKING: "info",
            self.Status.IMPORTING: "info",
        }.get(self.status, "secondary")

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class InsurerCustomerNumber(models.Model):
    """The insurer's own number for a person (GDV 0100 TD2, Personen-/Kundennummer des
    Versicherers), remembered so a re-import finds the customer even after its address
    was edited in the CRM."""

    insurer = models.ForeignKey(Insurer, on_delete=models.CASCADE, related_name="+")
    number = models.CharField(_("insurer's customer number"), max_length=40)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="insurer_numbers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("insurer's customer number")
        verbose_name_plural = _("insurers' customer numbers")
        constraints = [
            models.UniqueConstraint(fields=["insurer", "number"], name="insurer_customer_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.insurer}: {self.number}"
