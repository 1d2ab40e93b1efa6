"""Validating and writing the rows of a tabular import, batch by batch.

The same code runs the dry run and the import: for each batch of rows it reads the cells,
looks up the existing keys in one query, decides create / update / unchanged for every row,
and — only when committing — writes the batch with one bulk_create and one bulk_update.
Matching: customers by customer number; contracts by insurer + policy number; bookings by
contract + booking date + amount + statement reference. An empty cell never clears a value
that is already in the CRM.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import EMPTY_VALUES
from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.models import CommissionBooking, Contract, Customer, Insurer, LineOfBusiness
from customers.validators import validate_postal_code

from . import conf
from .layouts import Column, layout_columns
from .parsing import ValueProblem, clean_text, normalize, parse_bool, parse_date, parse_decimal, parse_int
from .tabular import Table

MAX_MONEY = Decimal("1000000000000")  # max_digits 14, decimal_places 2
COUNTRY_NAMES = {
    "d": "DE", "deutschland": "DE", "germany": "DE", "brd": "DE",
    "a": "AT", "oesterreich": "AT", "austria": "AT",
    "ch": "CH", "schweiz": "CH", "switzerland": "CH",
    "nl": "NL", "niederlande": "NL", "netherlands": "NL",
    "f": "FR", "frankreich": "FR", "france": "FR",
    "b": "BE", "belgien": "BE", "belgium": "BE",
    "l": "LU", "luxemburg": "LU", "luxembourg": "LU",
    "i": "IT", "italien": "IT", "italy": "IT",
    "e": "ES", "spanien": "ES", "spain": "ES",
    "dk": "DK", "daenemark": "DK", "denmark": "DK",
    "pl": "PL", "polen": "PL", "poland": "PL",
}  # fmt: skip


RESTRICTED = gettext_lazy(
    "This customer's data is restricted after an erasure request (Art. 18 DSGVO); an import "
    "does not change it or add to it."
)


class ImportAborted(Exception):
    """Raised inside the import's transaction so that nothing of it is kept."""


@dataclass
class Outcome:
    counts: Counter = field(default_factory=Counter)
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    warnings: list[dict] = field(default_factory=list)
    warning_count: int = 0
    checks: dict = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)  # the first records written, for the result page

    def error(self, row: int | None, column: str, message: str, value: Any = "") -> None:
        self.error_count += 1
        if len(self.errors) < conf.MAX_STORED_MESSAGES:
            self.errors.append(
                {"row": row, "column": column, "value": _display(value), "message": str(message)}
            )

    def warn(self, row: int | None, column: str, message: str, value: Any = "") -> None:
        self.warning_count += 1
        if len(self.warnings) < conf.MAX_STORED_MESSAGES:
            self.warnings.append(
                {"row": row, "column": column, "value": _display(value), "message": str(message)}
            )


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    return str(value)[:200]


@dataclass
class Row:
    number: int
    values: dict[str, Any]
    raw: dict[str, Any]
    ok: bool = True


Progress = Callable[[int], None]


def _messages(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


@functools.cache
def _validators(model: type[models.Model], name: str) -> tuple:
    return tuple(model._meta.get_field(name).validators)


def check_field(model: type[models.Model], name: str, value: Any) -> None:
    """The model field's own validators (max length, e-mail, ranges), as Field.run_validators
    runs them (not for empty values); raises ValueProblem."""
    if value in EMPTY_VALUES:
        return
    for validator in _validators(model, name):
        try:
            validator(value)
        except ValidationError as exc:
            raise ValueProblem(_messages(exc)) from None


class TabularImporter:
    kind: str
    model: type[models.Model]

    def __init__(
        self, *, table: Table, mapping: dict[str, str], commit: bool, by, outcome: Outcome, reason: str = ""
    ) -> None:
        self.table = table
        self.commit = commit
        self.by = by
        self.outcome = outcome
        self.reason = reason
        columns = layout_columns(self.kind)
        self.mapped: list[tuple[int, Column, str]] = []
        for index, key in sorted(mapping.items(), key=lambda item: int(item[0])):
            if key in columns:
                position = int(index)
                header = table.headers[position] if position < len(table.headers) else ""
                self.mapped.append((position, columns[key], header or str(columns[key].label)))
        self.header_of = {column.key: header for _i, column, header in self.mapped}

    # Reading cells ------------------------------------------------------------------------

    def run(self, progress: Progress) -> None:
        for problem in self.table.problems:
            self.outcome.error(problem.row, problem.column, problem.message, problem.value)
            self.outcome.counts["invalid"] += 1
        size = conf.batch_size()
        total = len(self.table)
        for start in range(0, total, size):
            stop = min(start + size, total)
            rows = [self._read_row(i) for i in range(start, stop)]
            self.process(rows)
            progress(stop)
        self.outcome.counts["rows"] = total + len(self.table.problems)

    def _read_row(self, index: int) -> Row:
        cells = self.table.data[index]
        row = Row(self.table.row_numbers[index], {}, {})
        for position, column, _header in self.mapped:
            raw = cells[position] if position < len(cells) else None
            row.raw[column.key] = raw
            try:
                value = self._convert(column, raw)
            except ValueProblem as exc:
                self.fail(row, column.key, str(exc), raw)
                continue
            if value is None or value == "":
                if column.required:
                    self.fail(row, column.key, _("A value is required."), raw)
                continue
            row.values[column.key] = value
        return row

    @staticmethod
    def _convert(column: Column, raw: Any) -> Any:
        if column.kind == "date":
            return parse_date(raw)
        if column.kind == "decimal":
            return parse_decimal(raw)
        if column.kind == "int":
            return parse_int(raw)
        if column.kind == "bool":
            return parse_bool(raw)
        text = clean_text(raw)
        if column.kind == "choice" and text:
            value = column.choices.get(normalize(text))
            if value is None:
                codes = sorted({v for v in column.choices.values() if v})
                raise ValueProblem(
                    _("“%(value)s” is not a known value; use one of: %(codes)s.")
                    % {"value": text, "codes": ", ".join(codes)}
                )
            return value
        return text

    def fail(self, row: Row, key: str, message: str, value: Any = "") -> None:
        if row.ok:
            self.outcome.counts["invalid"] += 1
        row.ok = False
        self.outcome.error(row.number, self.header_of.get(key, key), message, value)

    def check(self, row: Row, key: str, model: type[models.Model], name: str, value: Any) -> bool:
        try:
            check_field(model, name, value)
        except ValueProblem as exc:
            self.fail(row, key, str(exc), row.raw.get(key, value))
            return False
        return True

    def process(self, rows: list[Row]) -> None:
        raise NotImplementedError

    # Writing ------------------------------------------------------------------------------

    def write(self, create: list, update: list, update_fields: set[str]) -> None:
        self.outcome.counts["create"] += len(create)
        self.outcome.counts["update"] += len(update)
        if not self.commit or self.outcome.error_count:
            return
        size = conf.batch_size()
        if create:
            self.model.objects.bulk_create(create, batch_size=size)
            record_history(self.model, create, update=False, by=self.by, reason=self.reason)
        if update and update_fields:
            self.model.objects.bulk_update(update, sorted(update_fields), batch_size=size)
            record_history(self.model, update, update=True, by=self.by, reason=self.reason)
        room = conf.MAX_LISTED_RESULTS - len(self.outcome.ids)
        if room > 0:
            self.outcome.ids.extend(obj.pk for obj in (create + update)[:room])


def record_history(model: type[models.Model], objs: list, *, update: bool, by, reason: str) -> None:
    """The audit trail's rows (django-simple-history) for rows written in bulk, which sends no
    signals: one bulk insert per batch, naming the importing user and the file."""
    history = getattr(model, "history", None)
    if history is None or not objs:
        return
    history.bulk_history_create(
        objs,
        batch_size=conf.batch_size(),
        update=update,
        default_user=by,
        default_change_reason=reason[:100],
        default_date=timezone.now(),
    )


def _changes(obj: models.Model, values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if getattr(obj, name) != value}


class InsurerResolver:
    """Insurers by VU number and by name, loaded once; unknown ones are created on commit."""

    def __init__(self, *, commit: bool, create_missing: bool, outcome: Outcome) -> None:
        self.commit = commit
        self.create_missing = create_missing
        self.outcome = outcome
        self.by_vu: dict[str, Insurer] = {}
        self.by_name: dict[str, Insurer] = {}
        for insurer in Insurer.objects.all():
            self.add(insurer)

    def add(self, insurer: Insurer) -> None:
        if insurer.vu_number:
            self.by_vu[insurer.vu_number] = insurer
        self.by_name[insurer.name.strip().lower()] = insurer

    def resolve(self, name: str, vu_number: str) -> Insurer:
        """The insurer, or a new one (unsaved in a dry run); raises ValueProblem."""
        vu_number = vu_number.strip()
        by_name = self.by_name.get(name.strip().lower())
        if vu_number:
            if vu_number in self.by_vu:
                return self.by_vu[vu_number]
            if by_name is not None:
                if by_name.vu_number and by_name.vu_number != vu_number:
                    raise ValueProblem(
                        _("The insurer “%(name)s” has the VU number %(ours)s, the file says %(theirs)s.")
                        % {"name": by_name.name, "ours": by_name.vu_number, "theirs": vu_number}
                    )
                return by_name
        elif by_name is not None:
            return by_name
        if not self.create_missing:
            raise ValueProblem(_("There is no insurer “%(name)s” in the CRM.") % {"name": name or vu_number})
        if not name:
            raise ValueProblem(
                _("The insurer with VU number %(vu)s is unknown; give its name.") % {"vu": vu_number}
            )
        insurer = Insurer(name=name.strip(), vu_number=vu_number)
        check_field(Insurer, "name", insurer.name)
        check_field(Insurer, "vu_number", insurer.vu_number)
        if self.commit and not self.outcome.error_count:
            insurer.save()
        self.outcome.counts["insurers_create"] += 1
        self.add(insurer)
        return insurer


class CustomerImporter(TabularImporter):
    kind = "customers"
    model = Customer
    FIELDS = (
        "kind", "salutation", "title", "first_name", "name", "birth_date", "email", "phone", "street",
        "postal_code", "city", "country", "status", "occupation", "marital_status", "homeowner", "cars",
        "children",
    )  # fmt: skip

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seen: dict[str, int] = {}
        self.users = {u.username.lower(): u.pk for u in get_user_model().objects.only("pk", "username")}

    def process(self, rows: list[Row]) -> None:
        numbers = [r.values["customer_number"] for r in rows if "customer_number" in r.values]
        existing = {c.number: c for c in Customer.objects.filter(number__in=numbers)}
        create, update, fields = [], [], set()
        now = timezone.now()
        for row in rows:
            number = row.values.get("customer_number")
            customer = existing.get(number)
            values = self._values(row, customer)
            if number is not None:
                if number in self.seen:
                    self.fail(
                        row,
                        "customer_number",
                        _("The customer number is already in row %(row)s.") % {"row": self.seen[number]},
                        number,
                    )
                else:
                    self.seen[number] = row.number
            if customer is not None and customer.restricted_at is not None:
                self.fail(row, "customer_number", str(RESTRICTED), number)
            if not row.ok:
                continue
            if customer is None:
                # The dry run only counts; model instances are built for writing.
                create.append(Customer(number=number, **values) if self.commit else number)
                continue
            changes = _changes(customer, values)
            if not changes:
                self.outcome.counts["unchanged"] += 1
                continue
            for name, value in changes.items():
                setattr(customer, name, value)
            customer.version += 1
            customer.updated_at = now
            update.append(customer)
            fields |= set(changes) | {"version", "updated_at"}
        self.write(create, update, fields)

    def _values(self, row: Row, customer: Customer | None) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "customer_number" in row.values:
            self.check(row, "customer_number", Customer, "number", row.values["customer_number"])
        for name in self.FIELDS:
            if name not in row.values:
                continue
            value = row.values[name]
            if name == "country":
                value = COUNTRY_NAMES.get(normalize(value), value.upper())
                if len(value) != 2 or not value.isalpha():
                    self.fail(
                        row, name, _("“%(value)s” is not a country code like DE.") % {"value": row.raw[name]}
                    )
                    continue
            if self.check(row, name, Customer, name, value):
                values[name] = value
        if "advisor" in row.values:
            user_id = self.users.get(row.values["advisor"].lower())
            if user_id is None:
                self.fail(row, "advisor", _("There is no user “%(name)s”.") % {"name": row.values["advisor"]})
            else:
                values["advisor_id"] = user_id
        if "postal_code" in values:
            country = values.get("country") or (customer.country if customer else "DE")
            try:
                validate_postal_code(values["postal_code"], country)
            except ValidationError as exc:
                self.fail(row, "postal_code", _messages(exc), row.raw.get("postal_code"))
        return values


class LineResolver:
    def __init__(self) -> None:
        self.lines = list(LineOfBusiness.objects.all())
        self.by_code = {line.code.lower(): line for line in self.lines}
        names: dict[str, list[LineOfBusiness]] = {}
        for line in self.lines:
            for text in {line.short_name, line.name}:
                names.setdefault(normalize(text), []).append(line)
        self.by_name = {name: found[0] for name, found in names.items() if len(found) == 1}

    def resolve(self, text: str) -> LineOfBusiness:
        token = text.strip().split()[0] if text.strip() else ""
        if token.isdigit():
            token = token.zfill(3)
        line = self.by_code.get(token.lower()) or self.by_name.get(normalize(text))
        if line is None:
            raise ValueProblem(
                _("“%(value)s” is not a known line of business; use the GDV Sparte code, e.g. 041.")
                % {"value": text}
            )
        return line


class ContractImporter(TabularImporter):
    kind = "contracts"
    model = Contract
    FIELDS = (
        "status", "start_date", "end_date", "main_due_date", "notice_period_months", "payment_frequency",
        "annual_premium",
    )  # fmt: skip

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.insurers = InsurerResolver(commit=self.commit, create_missing=True, outcome=self.outcome)
        self.lines = LineResolver()
        self.seen: dict[tuple, int] = {}

    def process(self, rows: list[Row]) -> None:
        numbers = {r.values["customer_number"] for r in rows if "customer_number" in r.values}
        customer_ids = {
            number: (pk, restricted is not None)
            for number, pk, restricted in Customer.objects.filter(number__in=numbers).values_list(
                "number", "id", "restricted_at"
            )
        }
        policies = {r.values["policy_number"] for r in rows if "policy_number" in r.values}
        existing = {
            (c.insurer_id, c.policy_number): c
            for c in Contract.objects.filter(policy_number__in=policies).annotate(
                customer_restricted_at=F("customer__restricted_at")
            )
        }
        create, update, fields = [], [], set()
        now = timezone.now()
        for row in rows:
            values = self._values(row, customer_ids)
            insurer = values.pop("insurer", None)
            policy = row.values.get("policy_number")
            key = (insurer.pk or f"new:{insurer.name.lower()}", policy) if insurer and policy else None
            if key is not None:
                if key in self.seen:
                    self.fail(
                        row,
                        "policy_number",
                        _("This contract is already in row %(row)s.") % {"row": self.seen[key]},
                        policy,
                    )
                else:
                    self.seen[key] = row.number
            contract = existing.get(key)
            if contract is not None and contract.customer_restricted_at is not None:
                self.fail(row, "policy_number", str(RESTRICTED), policy)
            if not row.ok:
                continue
            if contract is None:
                if "main_due_date" not in values:
                    values["main_due_date"] = values["start_date"]
                contract = Contract(insurer=insurer, policy_number=policy, **values)
                if self._validate(row, contract):
                    create.append(contract)
                continue
            changes = _changes(contract, values)
            if not changes:
                self.outcome.counts["unchanged"] += 1
                continue
            for name, value in changes.items():
                setattr(contract, name, value)
            if not self._validate(row, contract):
                continue
            contract.version += 1
            contract.updated_at = now
            update.append(contract)
            fields |= set(changes) | {"version", "updated_at"}
        self.write(create, update, fields)

    def _values(self, row: Row, customer_ids: dict[str, tuple[int, bool]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "customer_number" in row.values:
            customer_id, restricted = customer_ids.get(row.values["customer_number"], (None, False))
            if restricted:
                self.fail(row, "customer_number", str(RESTRICTED), row.values["customer_number"])
            elif customer_id is None:
                self.fail(
                    row,
                    "customer_number",
                    _("There is no customer with the number %(number)s; import the customers first.")
                    % {"number": row.values["customer_number"]},
                )
            else:
                values["customer_id"] = customer_id
        if "insurer" in row.values:
            try:
                values["insurer"] = self.insurers.resolve(
                    row.values["insurer"], row.values.get("insurer_vu_number", "")
                )
            except ValueProblem as exc:
                self.fail(row, "insurer", str(exc), row.raw.get("insurer"))
        if "line_of_business" in row.values:
            try:
                values["line_of_business_id"] = self.lines.resolve(row.values["line_of_business"]).pk
            except ValueProblem as exc:
                self.fail(row, "line_of_business", str(exc), row.raw.get("line_of_business"))
        if "policy_number" in row.values:
            self.check(row, "policy_number", Contract, "policy_number", row.values["policy_number"])
        for name in self.FIELDS:
            if name in row.values and self.check(row, name, Contract, name, row.values[name]):
                values[name] = row.values[name]
        premium = values.get("annual_premium")
        if premium is not None and abs(premium) >= MAX_MONEY:
            self.fail(row, "annual_premium", _("The amount is too large."), premium)
        return values

    def _validate(self, row: Row, contract: Contract) -> bool:
        if contract.end_date and contract.end_date < contract.start_date:
            self.fail(
                row,
                "end_date",
                _("The end lies before the start (%(start)s).") % {"start": _display(contract.start_date)},
                contract.end_date,
            )
            return False
        return True


class BookingImporter(TabularImporter):
    kind = "bookings"
    model = CommissionBooking

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.insurers = InsurerResolver(commit=self.commit, create_missing=False, outcome=self.outcome)
        self.seen: dict[tuple, int] = {}

    def process(self, rows: list[Row]) -> None:
        policies = {r.values["policy_number"] for r in rows if "policy_number" in r.values}
        contracts = {
            (insurer_id, policy): (pk, restricted is not None)
            for pk, insurer_id, policy, restricted in Contract.objects.filter(
                policy_number__in=policies
            ).values_list("pk", "insurer_id", "policy_number", "customer__restricted_at")
        }
        prepared = [(row, self._values(row, contracts)) for row in rows]
        ids = {v["contract_id"] for _row, v in prepared if "contract_id" in v}
        dates = {v["booked_on"] for _row, v in prepared if "booked_on" in v}
        existing = {
            (b.contract_id, b.booked_on, b.amount, b.statement_reference): b
            for b in CommissionBooking.objects.filter(contract_id__in=ids, booked_on__in=dates).only(
                "pk", "contract_id", "booked_on", "amount", "statement_reference", "kind"
            )
        }
        create, update = [], []
        for row, values in prepared:
            key = None
            if {"contract_id", "booked_on", "amount"} <= values.keys():
                key = (
                    values["contract_id"],
                    values["booked_on"],
                    values["amount"],
                    values["statement_reference"],
                )
                if key in self.seen:
                    self.fail(
                        row,
                        "amount",
                        _("The same booking is already in row %(row)s.") % {"row": self.seen[key]},
                        values["amount"],
                    )
                else:
                    self.seen[key] = row.number
            if not row.ok:
                continue
            booking = existing.get(key)
            if booking is None:
                create.append(CommissionBooking(created_by=self.by, **values))
            elif "kind" in row.values and booking.kind != values["kind"]:
                booking.kind = values["kind"]
                update.append(booking)
            else:
                self.outcome.counts["unchanged"] += 1
        self.write(create, update, {"kind"} if update else set())

    def _values(self, row: Row, contracts: dict[tuple, tuple[int, bool]]) -> dict[str, Any]:
        values: dict[str, Any] = {"statement_reference": row.values.get("statement_reference", "")}
        insurer = None
        if "insurer" in row.values:
            try:
                insurer = self.insurers.resolve(
                    row.values["insurer"], row.values.get("insurer_vu_number", "")
                )
            except ValueProblem as exc:
                self.fail(row, "insurer", str(exc), row.raw.get("insurer"))
        if insurer is not None and "policy_number" in row.values:
            contract_id, restricted = contracts.get((insurer.pk, row.values["policy_number"]), (None, False))
            if restricted:
                self.fail(row, "policy_number", str(RESTRICTED), row.values["policy_number"])
            elif contract_id is None:
                self.fail(
                    row,
                    "policy_number",
                    _("There is no contract %(policy)s with %(insurer)s; import the contracts first.")
                    % {"policy": row.values["policy_number"], "insurer": insurer.name},
                )
            else:
                values["contract_id"] = contract_id
        self.check(
            row,
            "statement_reference",
            CommissionBooking,
            "statement_reference",
            values["statement_reference"],
        )
        amount = row.values.get("amount")
        if "booked_on" in row.values:
            values["booked_on"] = row.values["booked_on"]
        if amount is not None:
            values["amount"] = amount
            kind = row.values.get("kind") or (
                CommissionBooking.Kind.CLAWBACK if amount < 0 else CommissionBooking.Kind.RECURRING
            )
            values["kind"] = kind
            if amount == 0:
                self.fail(row, "amount", _("A booking of 0,00 € records nothing."), row.raw.get("amount"))
            elif abs(amount) >= MAX_MONEY:
                self.fail(row, "amount", _("The amount is too large."), row.raw.get("amount"))
            elif (kind == CommissionBooking.Kind.CLAWBACK) != (amount < 0):
                self.fail(
                    row,
                    "amount",
                    _("A claw-back is a negative amount, every other booking a positive one."),
                    row.raw.get("amount"),
                )
        return values


IMPORTERS: dict[str, type[TabularImporter]] = {
    "customers": CustomerImporter,
    "contracts": ContractImporter,
    "bookings": BookingImporter,
}
