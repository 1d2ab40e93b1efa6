"""Data protection (DSGVO) for customers: access (Art. 15), erasure (Art. 17) with restriction
(Art. 18) of what a retention duty keeps, and the deletion once the retention has passed.

Retention duties (Art. 17(3)(b) DSGVO with § 257 HGB / § 147 AO, and § 7a UWG), each counted
from the end of the calendar year:

- contracts: 10 years after the contract ended — at the latest the year of the erasure;
- Courtage bookings: 8 years after the booking date (Buchungsbelege);
- marketing consents: 5 years after the withdrawal (proof of consent, § 7a UWG); the erasure
  withdraws every consent still in force.

An erasure request (`customer_erase`):

- anonymises the customer row: names, title, salutation, birth date, contact data, address,
  needs profile, household and referrer are removed, the name becomes "Gelöscht", the status
  "former"; number, kind and advisor stay, so the retained records still belong together. The
  customer's audit rows are anonymised the same way;
- erases subject and notes of the contact log (kind, time and user stay);
- keeps contracts, Courtage bookings and consents, restricted; what is already past its
  retention is deleted at once; if nothing must be kept, the customer is deleted at once;
- clears other customers' "referred by" this customer, and deletes the household when nobody
  else lives in it;
- deletes the rows of other apps that point to the customer. They are found through
  `Customer._meta`, so this module imports no other app. A model keeps its rows instead by
  declaring ``PRIVACY_ERASURE = {"field": value, ...}`` (those fields are overwritten, the rows
  stay, e.g. for statistics) or ``PRIVACY_ERASURE = "keep"`` (kept as they are, for a retention
  duty of its own; they go when the customer is purged).

A restricted customer is locked from use (`Customer.objects.usable()`, `services.ensure_usable`).
`retention_purge` (the `purge_retention` command) deletes, set-based, what has passed its
retention, with its audit rows, and the customer once nothing of it is retained.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import (
    Case,
    Count,
    DateField,
    Exists,
    F,
    Max,
    OuterRef,
    ProtectedError,
    Q,
    QuerySet,
    Value,
    When,
    signals,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from brokercrm.accounts.models import User

from . import gdv
from .history import history_model, reverse_relations
from .models import (
    Activity,
    CommissionBooking,
    Contract,
    Customer,
    Household,
    MarketingConsent,
    PrivacyRequest,
)
from .services import record_history
from .tables import csv_date, csv_decimal, csv_text

ERASED_NAME = "Gelöscht"
KEEP = "keep"
CONTRACT_RETENTION_YEARS = 10
BOOKING_RETENTION_YEARS = 8
CONSENT_PROOF_YEARS = 5
DELETE_BATCH = 1000
MAX_CASCADE_DEPTH = 5
HANDLED_ON_DELETE = (models.CASCADE, models.SET_NULL, models.PROTECT, models.RESTRICT)

ERASURE_REASON = "DSGVO Art. 17"
ALREADY_RESTRICTED = _("This customer's data has already been erased; the rest is restricted.")
REASON_REQUIRED = _("Give the reason (e.g. the customer's request and how it reached you).")
FUTURE_DATE = _("This date lies in the future.")

# What the erasure leaves of the customer row (and of its audit rows).
ERASED_CUSTOMER: dict[str, Any] = {
    "salutation": "0",
    "title": "",
    "first_name": "",
    "name": ERASED_NAME,
    "birth_date": None,
    "email": "",
    "phone": "",
    "street": "",
    "postal_code": "",
    "city": "",
    "occupation": "",
    "marital_status": "",
    "homeowner": False,
    "cars": 0,
    "children": 0,
    "referred_by": None,
    "household": None,
}
# The customers app's own tables: what the erasure does with them (others: see module docstring).
OWN_POLICY: dict[type[models.Model], Any] = {
    Contract: KEEP,
    MarketingConsent: KEEP,
    PrivacyRequest: KEEP,
    Activity: {"subject": ERASED_NAME, "notes": ""},
}


# --- tables that point to a customer ------------------------------------------------------------


def customer_relations() -> list[models.ForeignObjectRel]:
    """Other customers' referrals aside, every table with rows that belong to a customer."""
    return [rel for rel in reverse_relations(Customer) if rel.related_model is not Customer]


def erasure_policy(model: type[models.Model]) -> Any:
    return OWN_POLICY.get(model, getattr(model, "PRIVACY_ERASURE", None))


def table_name(model: type[models.Model]) -> str:
    return model._meta.label_lower


def table_title(label: str) -> str:
    """The plural name of a table from its label (`customers.contract`), for the pages."""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return label
    audited = getattr(model, "instance_type", None)
    if audited is not None:
        return f"{gettext('change history')}: {audited._meta.verbose_name_plural}"
    return str(model._meta.verbose_name_plural)


# --- retention -------------------------------------------------------------------------------


def retention_cutoff(as_of: dt.date, years: int) -> dt.date:
    """Rows dated before this day have passed a retention of `years` counted from the end of
    their calendar year (31.12. of year + years < as_of)."""
    return dt.date(as_of.year - years, 1, 1)


def retention_end(day: dt.date | None, years: int) -> dt.date | None:
    return dt.date(day.year + years, 12, 31) if day else None


def _contract_base(erased_on) -> Case:
    """The day a contract's retention counts from: its end, at the latest the erasure."""
    return Case(When(end_date__lt=erased_on, then=F("end_date")), default=erased_on, output_field=DateField())


def _kept_bookings(as_of: dt.date) -> Exists:
    return Exists(
        CommissionBooking.objects.filter(
            contract=OuterRef("pk"), booked_on__gte=retention_cutoff(as_of, BOOKING_RETENTION_YEARS)
        )
    )


def expired_bookings(customers: QuerySet[Customer], as_of: dt.date) -> QuerySet[CommissionBooking]:
    return CommissionBooking.objects.filter(
        contract__customer__in=customers,
        booked_on__lt=retention_cutoff(as_of, BOOKING_RETENTION_YEARS),
    )


def expired_contracts(customers: QuerySet[Customer], as_of: dt.date, erased_on) -> QuerySet[Contract]:
    """Contracts past their retention whose bookings are all past theirs too (bookings
    protect their contract)."""
    return (
        Contract.objects.filter(customer__in=customers)
        .annotate(retention_base=_contract_base(erased_on), has_kept_bookings=_kept_bookings(as_of))
        .filter(
            retention_base__lt=retention_cutoff(as_of, CONTRACT_RETENTION_YEARS),
            has_kept_bookings=False,
        )
    )


def expired_consents(customers: QuerySet[Customer], as_of: dt.date, erased_on) -> QuerySet[MarketingConsent]:
    return (
        MarketingConsent.objects.filter(customer__in=customers)
        .annotate(proof_base=Coalesce("withdrawn_on", erased_on, output_field=DateField()))
        .filter(proof_base__lt=retention_cutoff(as_of, CONSENT_PROOF_YEARS))
    )


# --- the erasure plan (shown before, stored after) ---------------------------------------------


@dataclass
class ErasurePlan:
    """What an erasure request does, table by table (keys: table labels, values: rows)."""

    on: dt.date
    anonymised: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    retained: dict[str, int] = field(default_factory=dict)
    cleared: dict[str, int] = field(default_factory=dict)
    retention_until: dt.date | None = None
    active_contracts: int = 0

    @property
    def deletes_customer(self) -> bool:
        return self.retention_until is None

    def as_summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["on"] = self.on.isoformat()
        data["retention_until"] = self.retention_until.isoformat() if self.retention_until else None
        return data

    def sections(self) -> list[tuple[str, str, list[tuple[str, int]]]]:
        """(key, title, [(table title, rows)]) for the pages, empty sections left out."""
        return summary_sections(self.as_summary())


SECTIONS = [
    ("anonymised", _("Anonymised")),
    ("deleted", _("Deleted")),
    ("retained", _("Restricted and retained")),
    ("cleared", _("References removed from other customers")),
]


def summary_sections(summary: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, int]]]]:
    sections = []
    for key, title in SECTIONS:
        rows = [(table_title(label), count) for label, count in (summary.get(key) or {}).items() if count]
        if rows:
            sections.append((key, str(title), rows))
    return sections


def _add(counts: dict[str, int], model: type[models.Model], rows: int) -> None:
    if rows:
        label = table_name(model)
        counts[label] = counts.get(label, 0) + rows


def erasure_plan(*, customer: Customer, on: dt.date) -> ErasurePlan:
    """What `customer_erase` on `on` would do, in a fixed number of queries."""
    plan = ErasurePlan(on=on)
    erased_on = Value(on, output_field=DateField())
    cut_contracts = retention_cutoff(on, CONTRACT_RETENTION_YEARS)
    cut_bookings = retention_cutoff(on, BOOKING_RETENTION_YEARS)
    cut_consents = retention_cutoff(on, CONSENT_PROOF_YEARS)

    contracts = (
        Contract.objects.filter(customer=customer)
        .annotate(retention_base=_contract_base(erased_on), has_kept_bookings=_kept_bookings(on))
        .aggregate(
            total=Count("pk"),
            expired=Count("pk", filter=Q(retention_base__lt=cut_contracts, has_kept_bookings=False)),
            kept_base=Max(
                "retention_base", filter=Q(retention_base__gte=cut_contracts) | Q(has_kept_bookings=True)
            ),
            active=Count(
                "pk",
                filter=Q(status__in=gdv.ACTIVE_CONTRACT_STATUSES)
                & (Q(end_date__isnull=True) | Q(end_date__gte=on)),
            ),
        )
    )
    bookings = CommissionBooking.objects.filter(contract__customer=customer).aggregate(
        total=Count("pk"),
        expired=Count("pk", filter=Q(booked_on__lt=cut_bookings)),
        kept_last=Max("booked_on", filter=Q(booked_on__gte=cut_bookings)),
    )
    consents = (
        MarketingConsent.objects.filter(customer=customer)
        .annotate(proof_base=Coalesce("withdrawn_on", erased_on, output_field=DateField()))
        .aggregate(
            total=Count("pk"),
            expired=Count("pk", filter=Q(proof_base__lt=cut_consents)),
            kept_last=Max("proof_base", filter=Q(proof_base__gte=cut_consents)),
        )
    )
    for model, figures in (
        (Contract, contracts),
        (CommissionBooking, bookings),
        (MarketingConsent, consents),
    ):
        _add(plan.deleted, model, figures["expired"])
        _add(plan.retained, model, figures["total"] - figures["expired"])
    plan.active_contracts = contracts["active"]
    ends = [
        retention_end(contracts["kept_base"], CONTRACT_RETENTION_YEARS),
        retention_end(bookings["kept_last"], BOOKING_RETENTION_YEARS),
        retention_end(consents["kept_last"], CONSENT_PROOF_YEARS),
    ]
    plan.retention_until = max((end for end in ends if end), default=None)

    # The customer row and its audit rows are anonymised, or deleted with everything else.
    target = plan.deleted if plan.deletes_customer else plan.anonymised
    _add(target, Customer, 1)
    audit = Customer.history.filter(id=customer.pk).count()
    _add(target, Customer.history.model, audit)
    if (
        customer.household_id
        and not Customer.objects.filter(household_id=customer.household_id).exclude(pk=customer.pk).exists()
    ):
        _add(plan.deleted, Household, 1)
    _add(plan.cleared, Customer, Customer.objects.filter(referred_by=customer).count())

    for rel in customer_relations():
        model = rel.related_model
        if model in (Contract, MarketingConsent, PrivacyRequest):
            continue  # counted above; the requests are the proof and stay
        rows = model._default_manager.filter(**{rel.field.name: customer}).count()
        policy = erasure_policy(model)
        if plan.deletes_customer or not (policy == KEEP or isinstance(policy, dict)):
            _add(plan.deleted, model, rows)
        elif policy == KEEP:
            _add(plan.retained, model, rows)
        else:
            _add(plan.anonymised, model, rows)
    return plan


# --- erasure ----------------------------------------------------------------------------------


@transaction.atomic
def customer_erase(
    *,
    customer: Customer,
    received_on: dt.date,
    reason: str,
    by: User | None,
    today: dt.date | None = None,
) -> PrivacyRequest:
    """Carry out an erasure request (Art. 17 DSGVO): anonymise what no retention duty keeps,
    restrict the rest (Art. 18) until `retention_until`, delete what is already past it, and
    document the request. See the module docstring for what happens to which table."""
    today = today or timezone.localdate()
    reason = (reason or "").strip()
    errors: dict[str, list] = {}
    if not reason:
        errors["reason"] = [ValidationError(REASON_REQUIRED, code="required")]
    if received_on > today:
        errors["received_on"] = [ValidationError(FUTURE_DATE, code="future")]
    if errors:
        raise ValidationError(errors)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.restricted_at is not None:
        raise ValidationError(ALREADY_RESTRICTED, code="restricted")

    plan = erasure_plan(customer=customer, on=today)
    now = timezone.now()
    request = PrivacyRequest.objects.create(
        kind=PrivacyRequest.Kind.ERASURE,
        customer=customer,
        customer_number=customer.number,
        received_on=received_on,
        reason=reason,
        summary=plan.as_summary(),
        retention_until=plan.retention_until,
        completed_at=now,
        completed_by=by,
    )
    _erase_other_tables(customer)
    Activity.objects.filter(customer=customer).update(**OWN_POLICY[Activity])
    _withdraw_consents(customer, on=today, by=by, now=now)
    _clear_referrals(customer, by=by, now=now)
    household_id = customer.household_id

    Customer.objects.filter(pk=customer.pk).update(
        **ERASED_CUSTOMER,
        status=Customer.Status.FORMER,
        segment="",
        segment_since=None,
        potential=Decimal("0"),
        biggest_gap=None,
        erased_at=now,
        restricted_at=today,
        retention_until=plan.retention_until,
        version=F("version") + 1,
        updated_at=now,
    )
    customer.refresh_from_db()
    record_history(customer, by=by, when=now, reason=ERASURE_REASON)
    Customer.history.filter(id=customer.pk).update(**ERASED_CUSTOMER)

    if household_id and not Customer.objects.filter(household_id=household_id).exists():
        delete_with_history(Household.objects.filter(pk=household_id))
    retention_purge(as_of=today, customers=Customer.objects.filter(pk=customer.pk))
    request.refresh_from_db()
    return request


def _erase_other_tables(customer: Customer) -> None:
    for rel in customer_relations():
        model = rel.related_model
        if model in OWN_POLICY:
            continue
        rows = model._default_manager.filter(**{rel.field.name: customer})
        policy = erasure_policy(model)
        if policy == KEEP:
            continue
        if isinstance(policy, dict):
            rows.update(**policy)
        else:
            delete_with_history(rows)


def _withdraw_consents(customer: Customer, *, on: dt.date, by: User | None, now: dt.datetime) -> None:
    in_force = MarketingConsent.objects.filter(customer=customer, withdrawn_on__isnull=True)
    ids = list(in_force.values_list("pk", flat=True))
    if not ids:
        return
    MarketingConsent.objects.filter(pk__in=ids).update(withdrawn_on=on, updated_at=now)
    MarketingConsent.history.bulk_history_create(
        list(MarketingConsent.objects.filter(pk__in=ids)),
        update=True,
        default_user=by,
        default_date=now,
        default_change_reason=ERASURE_REASON,
    )


def _clear_referrals(customer: Customer, *, by: User | None, now: dt.datetime) -> None:
    """Other customers no longer name the erased customer as their referrer."""
    referred = Customer.objects.filter(referred_by=customer)
    ids = list(referred.values_list("pk", flat=True))
    if not ids:
        return
    Customer.objects.filter(pk__in=ids).update(referred_by=None, version=F("version") + 1, updated_at=now)
    Customer.history.bulk_history_create(
        list(Customer.objects.filter(pk__in=ids)),
        update=True,
        default_user=by,
        default_date=now,
        default_change_reason=ERASURE_REASON,
    )


# --- deletion with the audit rows -------------------------------------------------------------


def _batches(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), DELETE_BATCH):
        yield ids[start : start + DELETE_BATCH]


def _has_other_delete_listeners(model: type[models.Model]) -> bool:
    """Receivers of delete signals other than the audit trail's (which this module replaces)."""
    listened = signals.pre_delete.has_listeners(model) or signals.post_delete.has_listeners(model)
    return listened and history_model(model) is None


def delete_with_history(rows: QuerySet, *, depth: int = 0) -> int:
    """Delete `rows`, what cascades from them, and every audit row of them — set-based: per
    batch of ids one statement per table, whatever the number of rows.

    Django's collector would load every row and send a signal per row (and the audit trail
    would write a "deleted" row per row, only to be removed again). Here the relations to the
    table are followed as Django would: CASCADE deletes (recursively), SET_NULL clears,
    PROTECT/RESTRICT refuse; other rules, or other apps' delete signals, go through Django."""
    model = rows.model
    ids = list(rows.order_by().values_list("pk", flat=True))
    history = history_model(model)
    relations = reverse_relations(model)
    plain = (
        depth <= MAX_CASCADE_DEPTH
        and not _has_other_delete_listeners(model)
        and all(rel.on_delete in HANDLED_ON_DELETE for rel in relations)
    )
    for batch in _batches(ids):
        batch_rows = model._base_manager.filter(pk__in=batch)
        if not plain:
            batch_rows.delete()  # Django's collector
        else:
            for rel in relations:
                related = rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": batch})
                if rel.on_delete is models.CASCADE:
                    delete_with_history(related, depth=depth + 1)
                elif rel.on_delete is models.SET_NULL:
                    related.update(**{rel.field.name: None})
                else:  # PROTECT, RESTRICT
                    protected = list(related[:1])
                    if protected:
                        raise ProtectedError(f"{model.__name__} rows are still referenced", set(protected))
            # One DELETE without signals: every relation to the table was handled above.
            batch_rows._raw_delete(batch_rows.db)
        if history is not None:
            history._default_manager.filter(id__in=batch)._raw_delete(rows.db)
    return len(ids)


def _delete_audit_rows_of_customers(ids: list[int]) -> None:
    """Audit rows that name the purged customers, also of contracts, bookings and consents
    deleted earlier (their history keeps the customer's id), and of other apps' audited tables."""
    Customer.history.filter(id__in=ids).delete()
    contract_history = Contract.history.filter(customer_id__in=ids)
    CommissionBooking.history.filter(contract_id__in=contract_history.values("id")).delete()
    contract_history.delete()
    for rel in reverse_relations(Customer):
        history = history_model(rel.related_model)
        if history is not None and rel.related_model not in (Customer, Contract):
            history._default_manager.filter(**{f"{rel.field.attname}__in": ids}).delete()


# --- purge ------------------------------------------------------------------------------------


@dataclass
class PurgeResult:
    bookings: int = 0
    contracts: int = 0
    consents: int = 0
    customers: int = 0

    @property
    def total(self) -> int:
        return self.bookings + self.contracts + self.consents + self.customers


@transaction.atomic
def retention_purge(*, as_of: dt.date, customers: QuerySet[Customer] | None = None) -> PurgeResult:
    """Delete the restricted data whose retention has passed by `as_of`: Courtage bookings,
    then contracts without retained bookings, then consents, then the customers of whom nothing
    is retained — each set-based, with their audit rows. Running it twice changes nothing."""
    restricted = (customers if customers is not None else Customer.objects.all()).restricted()
    erased_on = F("customer__restricted_at")
    result = PurgeResult()
    result.bookings = delete_with_history(expired_bookings(restricted, as_of))
    result.contracts = delete_with_history(expired_contracts(restricted, as_of, erased_on))
    result.consents = delete_with_history(expired_consents(restricted, as_of, erased_on))

    nothing_kept = restricted.exclude(Exists(Contract.objects.filter(customer=OuterRef("pk")))).exclude(
        Exists(MarketingConsent.objects.filter(customer=OuterRef("pk")))
    )
    ids = list(nothing_kept.values_list("pk", flat=True))
    for batch in _batches(ids):
        PrivacyRequest.objects.filter(customer_id__in=batch).update(purged_at=timezone.now())
        delete_with_history(Customer.objects.filter(pk__in=batch))
        _delete_audit_rows_of_customers(batch)
    result.customers = len(ids)
    return result


# --- Art. 15: the export ----------------------------------------------------------------------


@dataclass
class ExportTable:
    name: str
    title: str
    queryset: QuerySet


def _is_leaf(model: type[models.Model]) -> bool:
    """A table without foreign keys: its rows' names need no further query."""
    return not any(f.is_relation for f in model._meta.concrete_fields)


def customer_export_tables(customer: Customer) -> list[ExportTable]:
    """Every table with rows about the customer: master data, household, the tables that point
    to the customer (found generically, so other apps' tables are included), the tables that
    point to those rows (e.g. the bookings of the contracts), and the audit rows of all of them.
    Other customers (referrals, household members) are third parties and left out."""
    tables = [
        ExportTable("customer", str(Customer._meta.verbose_name), Customer.objects.filter(pk=customer.pk)),
        ExportTable(
            "household", str(Household._meta.verbose_name), Household.objects.filter(pk=customer.household_id)
        ),
    ]
    seen: set[type[models.Model]] = {Customer, Household}
    first_level: list[tuple[models.ForeignObjectRel, QuerySet]] = []
    for rel in customer_relations():
        queryset = rel.related_model._default_manager.filter(**{rel.field.name: customer})
        first_level.append((rel, queryset))
        seen.add(rel.related_model)
        tables.append(_table(rel.related_model, queryset, rel))
    for parent_rel, _queryset in first_level:
        for rel in reverse_relations(parent_rel.related_model):
            model = rel.related_model
            if model in seen:
                continue
            seen.add(model)
            lookup = f"{rel.field.name}__{parent_rel.field.name}"
            tables.append(_table(model, model._default_manager.filter(**{lookup: customer}), rel))
    tables.extend(_audit_tables(customer, first_level))
    return tables


def _table(model: type[models.Model], queryset: QuerySet, rel: models.ForeignObjectRel) -> ExportTable:
    name = table_name(model)
    if sum(1 for r in reverse_relations(rel.model) if r.related_model is model) > 1:
        name = f"{name}.{rel.field.name}"
    return ExportTable(name, str(model._meta.verbose_name_plural), queryset.order_by("pk"))


def _audit_tables(customer: Customer, first_level) -> list[ExportTable]:
    audited: list[tuple[type[models.Model], QuerySet]] = [
        (Customer, Customer.history.filter(id=customer.pk)),
        (
            Household,
            Household.history.filter(
                id__in=Customer.history.filter(id=customer.pk, household__isnull=False).values("household_id")
            ),
        ),
    ]
    contract_history = Contract.history.filter(customer_id=customer.pk)
    audited.append(
        (CommissionBooking, CommissionBooking.history.filter(contract_id__in=contract_history.values("id")))
    )
    for rel, _queryset in first_level:
        history = history_model(rel.related_model)
        if history is not None:
            audited.append(
                (rel.related_model, history._default_manager.filter(**{rel.field.attname: customer.pk}))
            )
    title = gettext("audit trail")
    return [
        ExportTable(
            f"audit.{table_name(model)}",
            f"{title}: {model._meta.verbose_name_plural}",
            queryset.order_by("history_date", "history_id"),
        )
        for model, queryset in audited
    ]


def _export_rows(queryset: QuerySet) -> tuple[list[models.Field], list[models.Model]]:
    model = queryset.model
    fields = list(model._meta.concrete_fields)
    leaf_fks = [f.name for f in fields if f.is_relation and _is_leaf(f.related_model)]
    return fields, list(queryset.select_related(*leaf_fks))


def _json_row(obj: models.Model, fields: list[models.Field]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for f in fields:
        value = f.value_from_object(obj)
        if isinstance(value, bytes | memoryview):
            value = f"<{len(value)} bytes>"
        row[f.attname] = value
        if f.is_relation and value is not None and _is_leaf(f.related_model):
            row[f.name] = str(getattr(obj, f.name))
        elif f.flatchoices and value not in (None, ""):
            row[f"{f.attname}_display"] = str(dict(f.flatchoices).get(value, value))
    return row


def _csv_value(obj: models.Model, f: models.Field) -> str:
    value = f.value_from_object(obj)
    if value is None or value == "":
        return ""
    if f.is_relation:
        return csv_text(getattr(obj, f.name)) if _is_leaf(f.related_model) else str(value)
    if f.flatchoices:
        return csv_text(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, Decimal):
        return csv_decimal(value)
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%d.%m.%Y %H:%M:%S")
    if isinstance(value, dt.date):
        return csv_date(value)
    if isinstance(value, bytes | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict | list):
        return csv_text(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))
    return csv_text(value)


def _csv_text(fields: list[models.Field], objs: Iterable[models.Model]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([str(f.verbose_name) for f in fields])
    for obj in objs:
        writer.writerow([_csv_value(obj, f) for f in fields])
    return "\ufeff" + out.getvalue()


@transaction.atomic
def customer_export(*, customer: Customer, by: User | None, received_on: dt.date) -> tuple[str, bytes]:
    """Art. 15: everything stored about the customer as a ZIP (file name, bytes): per table one
    JSON file (machine-readable) and one CSV file (for German Excel), a manifest and a README.
    The access request is documented (PrivacyRequest) before the export, so it is included."""
    today = timezone.localdate()
    if received_on > today:
        raise ValidationError({"received_on": [ValidationError(FUTURE_DATE, code="future")]})
    now = timezone.now()
    PrivacyRequest.objects.create(
        kind=PrivacyRequest.Kind.ACCESS,
        customer=customer,
        customer_number=customer.number,
        received_on=received_on,
        completed_at=now,
        completed_by=by,
    )
    buffer = io.BytesIO()
    manifest: list[dict[str, Any]] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in customer_export_tables(customer):
            fields, objs = _export_rows(table.queryset)
            rows = [_json_row(obj, fields) for obj in objs]
            archive.writestr(
                f"json/{table.name}.json",
                json.dumps(rows, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
            )
            archive.writestr(f"csv/{table.name}.csv", _csv_text(fields, objs))
            manifest.append({"file": table.name, "title": table.title, "rows": len(rows)})
        archive.writestr(
            "manifest.json",
            json.dumps(
                {
                    "customer_number": customer.number,
                    "created_at": now,
                    "created_by": str(by) if by else "",
                    "request_received_on": received_on,
                    "tables": manifest,
                },
                cls=DjangoJSONEncoder,
                ensure_ascii=False,
                indent=2,
            ),
        )
        archive.writestr("README.txt", _readme(customer, now, manifest))
    return f"dsgvo-art15-{customer.number}-{today:%Y-%m-%d}.zip", buffer.getvalue()


def _readme(customer: Customer, now: dt.datetime, manifest: list[dict[str, Any]]) -> str:
    lines = [
        gettext("Information under Art. 15 GDPR: all data stored about customer %(number)s")
        % {"number": customer.number},
        gettext("Created on %(when)s.") % {"when": timezone.localtime(now).strftime("%d.%m.%Y %H:%M")},
        "",
        gettext(
            "Every table is included twice: json/ (complete, machine-readable) and csv/ "
            "(semicolon-separated, for spreadsheets). Files starting with audit. hold the change "
            "history: who changed what and when."
        ),
        "",
    ]
    lines += [f"{entry['file']}: {entry['title']} ({entry['rows']})" for entry in manifest]
    return "\r\n".join(lines) + "\r\n"


# --- reads for the pages ----------------------------------------------------------------------


def customer_privacy_requests(*, customer: Customer, limit: int = 20) -> list[PrivacyRequest]:
    return list(
        customer.privacy_requests.select_related("completed_by").order_by("-completed_at", "-id")[:limit]
    )


def privacy_request_queryset() -> QuerySet[PrivacyRequest]:
    """The register of data protection requests, newest first."""
    return PrivacyRequest.objects.select_related("completed_by", "customer").order_by("-completed_at", "-id")
