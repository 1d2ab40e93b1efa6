"""The audit trail: who changed what and when, for the customer page.

django-simple-history writes one row per save of a customer, household, contract, Courtage
booking and marketing consent (and, in other apps, of the segmentation policy, rules and class
overrides and of the service-level catalogue) (the services write it themselves where they save with
`QuerySet.update()`, see `services.record_history`). This module reads it back as entries with
field-by-field differences, in a fixed number of queries however long the history is: per
audited table one query for the latest rows (each with the id of its predecessor) and one for
those predecessors, then one query per table that changed foreign keys point to, for labels.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from .models import CommissionBooking, Contract, Customer, Household, MarketingConsent
from .templatetags.crm import money

HISTORY_LIMIT = 50
VALUE_CHARS = 200

ACTIONS = {"+": _("created"), "~": _("changed"), "-": _("deleted")}


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    when: dt.datetime
    user: Any
    action: str
    subject: str
    reason: str
    changes: list[FieldChange] = field(default_factory=list)
    key: str = ""

    @property
    def action_label(self) -> str:
        return str(ACTIONS.get(self.action, self.action))


Subject = Callable[[Any], str]
Predecessor = Callable[[type[models.Model]], Subquery]


@dataclass(frozen=True)
class HistorySource:
    """Audit rows to show, how each names its object, and what each is compared with.

    By default a row is compared with the previous row of the same object. Versioned objects,
    of which every edit creates a new row (the segmentation policy), pass ``predecessor``: a
    subquery for the history_id of the row to compare a created ("+") row with, and
    ``diff_created=True``. ``excluded_fields`` are left out of the comparison."""

    queryset: QuerySet
    subject: Subject
    predecessor: Predecessor | None = None
    diff_created: bool = False
    excluded_fields: tuple[str, ...] = ()


def _name(model: type[models.Model]) -> str:
    return str(model._meta.verbose_name)


def _booking_subject(record) -> str:
    day = formats.date_format(record.booked_on, "SHORT_DATE_FORMAT") if record.booked_on else ""
    return f"{_name(CommissionBooking)} {day} {money(record.amount)}".strip()


def reverse_relations(model: type[models.Model]) -> list[models.ForeignObjectRel]:
    """Relations of other tables to `model`, hidden ones included, without the audit tables
    (their references have no constraint and do nothing on delete)."""
    return [
        rel
        for rel in model._meta.get_fields(include_hidden=True)
        if rel.auto_created
        and not rel.concrete
        and (rel.one_to_many or rel.one_to_one)
        and rel.on_delete is not models.DO_NOTHING
    ]


def history_model(model: type[models.Model]) -> type[models.Model] | None:
    """The audit table of `model`, if it is audited (django-simple-history)."""
    manager_name = getattr(model._meta, "simple_history_manager_attribute", None)
    return getattr(model, manager_name).model if manager_name else None


def customer_history_sources(customer: Customer) -> list[tuple[QuerySet, Subject]]:
    """The audit rows that concern one customer, with how each names its object. Rows of
    deleted contracts and bookings are included (their history keeps the customer's id).
    Other apps' tables that point to the customer appear as soon as they are audited."""
    contract_ids = Contract.history.filter(customer_id=customer.pk).values("id")
    sources: list[tuple[QuerySet, Subject]] = [
        (Customer.history.filter(id=customer.pk), lambda r: str(_("Master data"))),
        (
            Contract.history.filter(customer_id=customer.pk),
            lambda r: f"{_name(Contract)} {r.policy_number}",
        ),
        (CommissionBooking.history.filter(contract_id__in=contract_ids), _booking_subject),
        (
            MarketingConsent.history.filter(customer_id=customer.pk),
            lambda r: f"{_name(MarketingConsent)}: {r.get_channel_display()}",
        ),
    ]
    if customer.household_id:
        sources.append(
            (Household.history.filter(id=customer.household_id), lambda r: f"{_name(Household)} {r.name}")
        )
    for rel in reverse_relations(Customer):
        model, history = rel.related_model, history_model(rel.related_model)
        if history is None or model in (Customer, Contract, MarketingConsent):
            continue
        sources.append(
            (
                history._default_manager.filter(**{rel.field.attname: customer.pk}),
                _generic_subject(model),
            )
        )
    return sources


def _generic_subject(model: type[models.Model]) -> Subject:
    """How another app's audited table names its rows: the model's ``history_label(record)``
    if it has one (e.g. segmentation.ClassOverride), else its name and id."""
    label = getattr(model, "history_label", None)
    if callable(label):
        return label
    return lambda r: f"{_name(model)} #{r.id}"


def _predecessor(history_model: type[models.Model]) -> Subquery:
    """The history_id of the row before this one of the same object."""
    earlier = Q(history_date__lt=OuterRef("history_date")) | Q(
        history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id")
    )
    return Subquery(
        history_model._default_manager.filter(earlier, id=OuterRef("id"))
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )


def customer_history(*, customer: Customer, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """The latest `limit` changes to the customer and its contracts, bookings, consents and
    household, newest first, each with what changed (old → new)."""
    return history_entries(customer_history_sources(customer), limit=limit)


def history_entries(
    sources: Iterable[HistorySource | tuple[QuerySet, Subject]], *, limit: int = HISTORY_LIMIT
) -> list[HistoryEntry]:
    """The latest `limit` changes of the given audit rows (each a `HistorySource`, or a history
    queryset and how its rows name their object), newest first, with what changed. Two queries
    per source and one per table that changed foreign keys point to, however long the history.

    Other pages use it for their own audited objects (the segmentation policy and rules, the
    service-level catalogue, see their selectors), rendered with
    ``{% include "customers/partials/history_entries.html" %}``."""
    rows: list[tuple[Any, Any, HistorySource]] = []
    for source in sources:
        if not isinstance(source, HistorySource):
            source = HistorySource(*source)
        history = source.queryset.model
        latest = list(
            source.queryset.select_related("history_user")
            .annotate(previous_id=(source.predecessor or _predecessor)(history))
            .order_by("-history_date", "-history_id")[:limit]
        )
        wanted = [r.previous_id for r in latest if r.previous_id and _compared(r, source)]
        previous = history._default_manager.in_bulk(wanted) if wanted else {}
        rows.extend((r, previous.get(r.previous_id), source) for r in latest)
    rows.sort(key=lambda row: (row[0].history_date, row[0].history_id), reverse=True)

    diffs = []
    for record, before, source in rows:
        changes = (
            record.diff_against(before, excluded_fields=source.excluded_fields).changes
            if before is not None and _compared(record, source)
            else []
        )
        if (
            record.history_type == "~"
            and before is not None
            and not changes
            and not record.history_change_reason
        ):
            continue  # saved without a change
        diffs.append((record, changes, source.subject))
        if len(diffs) == limit:
            break

    labels = _foreign_key_labels(
        (record.instance_type, change) for record, changes, _subject in diffs for change in changes
    )
    return [
        HistoryEntry(
            when=record.history_date,
            user=record.history_user,
            action=record.history_type,
            subject=subject(record),
            reason=record.history_change_reason or "",
            changes=[_field_change(record.instance_type, change, labels) for change in changes],
            key=f"{record._meta.model_name}-{record.history_id}",
        )
        for record, changes, subject in diffs
    ]


def _compared(record, source: HistorySource) -> bool:
    return record.history_type == "~" or (source.diff_created and record.history_type == "+")


def _foreign_key_labels(changes: Iterable[tuple[type[models.Model], Any]]) -> dict[tuple[type, Any], str]:
    """Labels of the objects changed foreign keys point to: one query per target table."""
    wanted: dict[type[models.Model], set] = defaultdict(set)
    for model, change in changes:
        model_field = model._meta.get_field(change.field)
        if model_field.is_relation:
            wanted[model_field.related_model].update(v for v in (change.old, change.new) if v is not None)
    labels: dict[tuple[type, Any], str] = {}
    for related_model, ids in wanted.items():
        # select_related() follows the non-null foreign keys, which __str__ methods use.
        for pk, obj in related_model._default_manager.select_related().in_bulk(ids).items():
            labels[(related_model, pk)] = str(obj)
    return labels


def _field_change(model: type[models.Model], change, labels) -> FieldChange:
    model_field = model._meta.get_field(change.field)
    return FieldChange(
        field=change.field,
        label=str(model_field.verbose_name),
        old=display_value(model_field, change.old, labels),
        new=display_value(model_field, change.new, labels),
    )


def display_value(model_field: models.Field, value: Any, labels: dict | None = None) -> str:
    """A field's value as the pages show it (choices by label, money, dates in the locale)."""
    if value is None or value == "":
        return "–"
    if model_field.is_relation:
        return (labels or {}).get((model_field.related_model, value), f"#{value}")
    if model_field.flatchoices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    text = str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
