"""Reads of the import pages and the exports."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from customers.models import CommissionBooking, Contract, Customer

from .filters import EXPORT_FILTERS
from .models import ImportJob

RECENT_JOBS = 20
EXPORT_CHUNK = 2000

# Layout column -> the value path of the export query, in layout order (see layouts.py).
EXPORT_VALUES: dict[str, dict[str, str]] = {
    "customers": {
        "customer_number": "number", "kind": "kind", "salutation": "salutation", "title": "title",
        "first_name": "first_name", "name": "name", "birth_date": "birth_date", "email": "email",
        "phone": "phone", "street": "street", "postal_code": "postal_code", "city": "city",
        "country": "country", "status": "status", "advisor": "advisor__username",
        "occupation": "occupation", "marital_status": "marital_status", "homeowner": "homeowner",
        "cars": "cars", "children": "children",
    },
    "contracts": {
        "customer_number": "customer__number", "insurer": "insurer__name",
        "insurer_vu_number": "insurer__vu_number", "line_of_business": "line_of_business__code",
        "policy_number": "policy_number", "status": "status", "start_date": "start_date",
        "end_date": "end_date", "main_due_date": "main_due_date",
        "notice_period_months": "notice_period_months", "payment_frequency": "payment_frequency",
        "annual_premium": "annual_premium",
    },
    "bookings": {
        "policy_number": "contract__policy_number", "insurer": "contract__insurer__name",
        "insurer_vu_number": "contract__insurer__vu_number", "booked_on": "booked_on", "amount": "amount",
        "kind": "kind", "statement_reference": "statement_reference",
    },
}  # fmt: skip
EXPORT_MODELS = {"customers": Customer, "contracts": Contract, "bookings": CommissionBooking}
EXPORT_ORDER = {
    "customers": ("number",),
    "contracts": ("customer__number", "insurer__name", "policy_number"),
    "bookings": ("contract__policy_number", "booked_on", "id"),
}


def import_job_list(*, limit: int = RECENT_JOBS) -> QuerySet[ImportJob]:
    return ImportJob.objects.defer("content", "sample", "errors", "warnings").select_related("created_by")[
        :limit
    ]


def import_job_detail_queryset() -> QuerySet[ImportJob]:
    return ImportJob.objects.defer("content").select_related("created_by")


def import_job_results(*, job: ImportJob) -> QuerySet | None:
    """The first records an import wrote, for its result page (one query)."""
    ids = (job.checks or {}).get("ids") or []
    if job.status != ImportJob.Status.DONE or not ids:
        return None
    if job.kind == ImportJob.Kind.CUSTOMERS:
        return Customer.objects.filter(pk__in=ids).by_name()
    if job.kind == ImportJob.Kind.BOOKINGS:
        return (
            CommissionBooking.objects.filter(pk__in=ids)
            .select_related("contract__insurer", "contract__customer")
            .order_by("contract__policy_number", "booked_on")
        )
    return (
        Contract.objects.filter(pk__in=ids)
        .select_related("customer", "insurer", "line_of_business")
        .order_by("customer__name", "policy_number")
    )


def export_rows(*, kind: str, params: Mapping) -> Iterator[tuple]:
    """The rows of an export in layout order, filtered like the list (raises ValidationError
    for a filter value that cannot be read)."""
    model = EXPORT_MODELS[kind]
    filterset = EXPORT_FILTERS[kind](data=params or None, queryset=model.objects.all())
    if filterset.is_bound and not filterset.is_valid():
        raise ValidationError(filterset.errors.as_text())
    paths = list(EXPORT_VALUES[kind].values())
    queryset = filterset.qs.order_by(*EXPORT_ORDER[kind]).values_list(*paths)
    return queryset.iterator(chunk_size=EXPORT_CHUNK)


TABULAR_COUNTS = (
    ("rows", _("rows in the file")),
    ("create", _("new")),
    ("update", _("changed")),
    ("unchanged", _("unchanged (skipped)")),
    ("invalid", _("rows with errors")),
    ("insurers_create", _("new insurers")),
)
GDV_COUNTS = (
    ("records", _("records in the file")),
    ("records_skipped", _("records of other Satzarten (skipped)")),
    ("addresses", _("policyholder addresses (0100)")),
    ("persons", _("persons after de-duplication")),
    ("customers_create", _("new customers")),
    ("customers_match", _("customers already in the CRM")),
    ("create", _("new contracts")),
    ("update", _("changed contracts")),
    ("unchanged", _("unchanged contracts (skipped)")),
    ("insurers_create", _("new insurers")),
)


def import_job_summary(*, job: ImportJob) -> list[dict]:
    """The counts of a check or import as labelled figures, in reading order."""
    counts = job.counts or {}
    labels = GDV_COUNTS if job.is_gdv else TABULAR_COUNTS
    return [
        {"key": key, "label": label, "value": counts.get(key, 0)}
        for key, label in labels
        if key in counts or key in ("create", "update", "unchanged")
    ]


def import_job_file_checks(*, job: ImportJob) -> list[dict]:
    """The GDV file's own totals (Nachsatz) against what was read, per Vorsatz…Nachsatz block."""
    rows = []
    for package in (job.checks or {}).get("packages", []):
        rows.append(
            {
                **package,
                "records_ok": package.get("records_declared") is not None
                and int(package["records_declared"]) == package["records_read"],
                "premium_ok": package.get("premium_declared") is not None
                and Decimal(package["premium_declared"]) == Decimal(package["premium_read"]),
            }
        )
    return rows
