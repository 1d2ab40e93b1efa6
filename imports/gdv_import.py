"""From a GDV file to customers and contracts.

Persons: a 0100 record exists once per contract, so the policyholders (Adresskennzeichen 01)
are de-duplicated — by the insurer's customer number (0100 TD2, 43–59), else by name, birth
date and address — and matched against the CRM: by the broker's own customer number (0100 TD2,
60–76), by the insurer's customer number remembered from an earlier import, else by name,
first name, birth date, postal code and street. Codes (Anrede, Sparte, Vertragsstatus,
Zahlungsweise) map onto the CRM's GDV code tables; an unknown code is an error, never a guess.

The net premium of a 0200 record is the premium per payment (Beitrag gemäß Zahlungsweise); the
CRM keeps the annual premium, so it is multiplied by the payments per year (monthly × 12, …;
single payment, paid-up and "other" are taken as they are).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import gdv
from customers.models import Contract, Customer, Insurer, LineOfBusiness
from customers.validators import validate_postal_code

from . import conf
from . import gdv_format as f
from .importers import RESTRICTED, Outcome, record_history
from .models import InsurerCustomerNumber

SALUTATION_CODES = {code for code, _label in gdv.SALUTATIONS}
COMPANY_SALUTATIONS = {"3", "6"}
CONTRACT_STATUS_CODES = {code for code, _label in gdv.CONTRACT_STATUSES}
PAYMENT_CODES = {code for code, _label in gdv.PAYMENT_FREQUENCIES}
MARITAL_CODES = {code for code, _label in gdv.MARITAL_STATUSES}
ANNUAL_FACTOR = {"1": Decimal(1), "2": Decimal(2), "4": Decimal(4), "8": Decimal(12), "7": Decimal(365)}
THREE_YEARLY = "3"
# GDV Länderkennzeichen are the international vehicle codes; ISO codes are accepted too.
COUNTRY_CODES = {
    "D": "DE", "A": "AT", "CH": "CH", "NL": "NL", "B": "BE", "F": "FR", "L": "LU", "I": "IT", "E": "ES",
    "P": "PT", "DK": "DK", "S": "SE", "N": "NO", "FIN": "FI", "PL": "PL", "CZ": "CZ", "H": "HU", "GB": "GB",
    "IRL": "IE", "GR": "GR", "SK": "SK", "SLO": "SI", "HR": "HR", "FL": "LI", "USA": "US", "TR": "TR",
    "RO": "RO", "BG": "BG", "LV": "LV", "LT": "LT", "EST": "EE", "M": "MT", "CY": "CY", "RUS": "RU",
    "UA": "UA", "MC": "MC", "SRB": "RS", "BIH": "BA", "AL": "AL", "IS": "IS", "RSM": "SM", "V": "VA",
}  # fmt: skip
ISO_COUNTRIES = set(COUNTRY_CODES.values()) | {"DE", "AT", "IT", "ES", "FR", "BE", "LU", "SE", "HU", "IE"}

_email = EmailValidator()


@dataclass
class Person:
    line: int
    vu_number: str
    insurer_number: str
    broker_number: str
    salutation: str
    kind: str
    title: str
    first_name: str
    name: str
    birth_date: dt.date | None
    street: str
    postal_code: str
    city: str
    country: str
    email: str = ""
    phone: str = ""
    marital_status: str = ""
    records: int = 1
    customer: Customer | None = None
    has_reference: bool = False

    @property
    def identity(self) -> tuple:
        return identity(self.name, self.first_name, self.birth_date, self.postal_code, self.street)


@dataclass
class ContractData:
    line: int
    vu_number: str
    sparte: str
    policy_number: str
    line_of_business: LineOfBusiness
    status: str
    payment_frequency: str
    start_date: dt.date
    end_date: dt.date | None
    main_due_date: dt.date
    annual_premium: Decimal
    person: Person


@dataclass
class Plan:
    persons: list[Person] = field(default_factory=list)
    contracts: list[ContractData] = field(default_factory=list)
    senders: dict[str, str] = field(default_factory=dict)  # VU number -> name from the Vorsatz


def identity(name: str, first_name: str, birth_date, postal_code: str, street: str) -> tuple:
    def norm(text: str) -> str:
        text = re.sub(r"\s+", " ", (text or "").strip().lower())
        return text.replace("straße", "str.").replace("strasse", "str.")

    return (norm(name), norm(first_name), birth_date, (postal_code or "").strip(), norm(street))


def run_gdv(content: bytes, *, commit: bool, by, outcome: Outcome, progress, reason: str = "") -> None:
    parsed = f.read_gdv(content)
    outcome.counts["records"] = parsed.total_records
    outcome.counts["records_skipped"] = sum(parsed.skipped.values())
    outcome.checks["satzarten"] = dict(sorted(parsed.satzarten.items()))
    outcome.checks["skipped"] = dict(sorted(parsed.skipped.items()))
    outcome.checks["packages"] = [
        {
            "vu_number": p.vu_number,
            "sender": p.sender,
            "records_read": p.records,
            "records_declared": _declared(p, f.ANZAHL_SAETZE, 0),
            "premium_read": str(p.premium_sum),
            "premium_declared": _declared(p, f.NACHSATZ_GESAMTBEITRAG, 2),
        }
        for p in parsed.packages
    ]
    for problem in parsed.problems:
        outcome.error(problem.line, problem.column, problem.message, problem.value)
    progress(parsed.total_records // 3)
    plan = build_plan(parsed, outcome)
    progress(2 * parsed.total_records // 3)
    apply_plan(plan, commit=commit, by=by, outcome=outcome, reason=reason)
    progress(parsed.total_records)


def _declared(package: f.Package, fld: f.Field, decimals: int) -> str | None:
    if package.nachsatz is None:
        return None
    try:
        return str(f.parse_amount(package.nachsatz.get(fld), decimals))
    except ValueError:
        return None


# Reading persons and contracts ----------------------------------------------------------------


def build_plan(parsed: f.GdvFile, outcome: Outcome) -> Plan:
    plan = Plan()
    lines = {line.code: line for line in LineOfBusiness.objects.all()}
    by_insurer_number: dict[tuple[str, str], Person] = {}
    by_identity: dict[tuple, Person] = {}
    for package in parsed.packages:
        if package.vu_number and package.sender:
            plan.senders.setdefault(package.vu_number, package.sender)
        holders: dict[tuple, Person | None] = {}
        for group in package.addresses:
            first = group.first
            marker = first.get(f.ADRESSKENNZEICHEN).strip()
            if marker not in ("", f.POLICYHOLDER):
                outcome.counts["addresses_other"] += 1
                continue
            outcome.counts["addresses"] += 1
            person = _read_person(group, outcome)
            if person is None:
                holders.setdefault(first.contract_key, None)  # reported; the contract is not read
                continue
            known = None
            if person.insurer_number:
                known = by_insurer_number.get((person.vu_number, person.insurer_number))
            if known is None:
                candidate = by_identity.get(person.identity)
                if candidate is not None and not (candidate.insurer_number and person.insurer_number):
                    known = candidate
            if known is not None:
                known.records += 1
                person = known
            else:
                plan.persons.append(person)
                if person.insurer_number:
                    by_insurer_number[(person.vu_number, person.insurer_number)] = person
                by_identity.setdefault(person.identity, person)
            if holders.get(first.contract_key) is None:
                holders[first.contract_key] = person
        for group in package.contracts:
            contract = _read_contract(group, lines, holders, outcome)
            if contract is not None:
                plan.contracts.append(contract)
    outcome.counts["persons"] = len(plan.persons)
    seen: dict[tuple[str, str], int] = {}
    for contract in plan.contracts:
        key = (contract.vu_number, contract.policy_number)
        if key in seen:
            outcome.error(
                contract.line,
                f.VS_NR.label("0200"),
                _("The policy number %(number)s of this insurer is already in line %(line)s.")
                % {"number": contract.policy_number, "line": seen[key]},
                contract.policy_number,
            )
        seen[key] = contract.line
    return plan


def _text(record: f.Record, fld: f.Field) -> str:
    return " ".join(record.get(fld).split())


def _read_person(group: f.Group, outcome: Outcome) -> Person | None:
    td1, td2, td3 = group.first, group.part(2), group.part(3)
    errors_before = outcome.error_count

    def error(fld: f.Field, message: str, value: str = "") -> None:
        outcome.error(td1.line, fld.label("0100"), message, value)

    salutation = td1.get(f.ANREDE).strip() or "0"
    if salutation not in SALUTATION_CODES:
        error(f.ANREDE, _("“%(value)s” is not a GDV Anrede code (0–8).") % {"value": salutation}, salutation)
    name1, name2, name3 = _text(td1, f.NAME1), _text(td1, f.NAME2), _text(td1, f.NAME3)
    kind = Customer.Kind.COMPANY if salutation in COMPANY_SALUTATIONS else Customer.Kind.PERSON
    if kind == Customer.Kind.COMPANY:
        name, first_name = " ".join(p for p in (name1, name2, name3) if p), ""
    else:
        name, first_name = " ".join(p for p in (name1, name2) if p), name3
    if not name:
        error(f.NAME1, _("The name is empty."))
    lkz = td1.get(f.LKZ).strip().upper()
    country = "DE" if not lkz else COUNTRY_CODES.get(lkz) or (lkz if lkz in ISO_COUNTRIES else "")
    if not country:
        error(f.LKZ, _("“%(value)s” is not a known Länderkennzeichen.") % {"value": lkz}, lkz)
        country = "DE"
    postal_code = td1.get(f.PLZ).strip()
    try:
        validate_postal_code(postal_code, country)
    except ValidationError as exc:
        error(f.PLZ, " ".join(exc.messages), postal_code)
    birth_date = None
    try:
        birth_date, partial = f.parse_gdv_date(td1.get(f.GEBURTSDATUM))
    except ValueError as exc:
        error(f.GEBURTSDATUM, str(exc), td1.get(f.GEBURTSDATUM))
    else:
        if birth_date and birth_date > timezone.localdate():
            error(f.GEBURTSDATUM, _("The birth date lies in the future."), td1.get(f.GEBURTSDATUM))
        elif partial:
            outcome.warn(
                td1.line,
                f.GEBURTSDATUM.label("0100"),
                _("Only part of the birth date is known."),
                td1.get(f.GEBURTSDATUM),
            )
    person = Person(
        line=td1.line,
        vu_number=td1.get(f.VU_NUMMER).strip(),
        insurer_number=td2.get(f.KUNDENNR_VU).strip() if td2 else "",
        broker_number=td2.get(f.KUNDENNR_VM).strip() if td2 else "",
        salutation=salutation,
        kind=kind,
        title=_text(td1, f.TITEL)[:40],
        first_name=first_name[:100],
        name=name[:200],
        birth_date=birth_date,
        street=_text(td1, f.STRASSE),
        postal_code=postal_code,
        city=_text(td1, f.ORT),
        country=country,
    )
    if td2:
        marital = td2.get(f.FAMILIENSTAND).strip()
        if marital in MARITAL_CODES:
            person.marital_status = marital
        elif marital:
            outcome.warn(
                td2.line,
                f.FAMILIENSTAND.label("0100"),
                _("Unknown Familienstand code, not imported."),
                marital,
            )
    _read_communication(person, td2, td3, outcome)
    return person if outcome.error_count == errors_before else None


def _read_communication(person: Person, td2: f.Record | None, td3: f.Record | None, outcome: Outcome) -> None:
    entries = []
    if td2:
        entries += [(td2, kind, number) for kind, number in f.KOMMUNIKATION_TD2]
    if td3:
        entries += [(td3, kind, number) for kind, number in f.KOMMUNIKATION_TD3]
    for record, kind_field, number_field in entries:
        kind, value = record.get(kind_field).strip(), record.get(number_field).strip()
        if not value:
            continue
        if kind in f.EMAIL_TYPES and not person.email:
            try:
                _email(value)
            except ValidationError:
                outcome.warn(
                    record.line,
                    number_field.label("0100"),
                    _("“%(value)s” is not a valid e-mail address and is not imported.") % {"value": value},
                    value,
                )
            else:
                person.email = value[:254]
        elif kind in f.PHONE_TYPES and not person.phone:
            person.phone = value[:40]


def _read_contract(group: f.Group, lines: dict, holders: dict, outcome: Outcome) -> ContractData | None:
    td1 = group.first
    errors_before = outcome.error_count

    def error(fld: f.Field, message: str, value: str = "") -> None:
        outcome.error(td1.line, fld.label("0200"), message, value)

    def date(fld: f.Field, required: bool) -> dt.date | None:
        raw = td1.get(fld)
        try:
            value, partial = f.parse_gdv_date(raw)
        except ValueError as exc:
            error(fld, str(exc), raw)
            return None
        if value is None and required:
            error(fld, _("The date is missing."), raw)
        if partial:
            outcome.warn(
                td1.line, fld.label("0200"), _("Only part of the date is known; the 1st is assumed."), raw
            )
        return value

    vu_number, sparte, policy_number, _folge = td1.contract_key
    line = lines.get(sparte)
    if line is None:
        error(
            f.SPARTE,
            _("“%(value)s” is not a Sparte in the CRM's Spartenverzeichnis.") % {"value": sparte},
            sparte,
        )
    if not policy_number:
        error(f.VS_NR, _("The policy number is empty."))
    elif len(policy_number) > 40:
        error(f.VS_NR, _("The policy number is longer than 40 characters."), policy_number)
    start = date(f.VERTRAGSBEGINN, required=True)
    end = date(f.VERTRAGSABLAUF, required=False)
    main_due = date(f.HAUPTFAELLIGKEIT, required=False)
    if start and end and end < start:
        error(f.VERTRAGSABLAUF, _("The end lies before the start."), td1.get(f.VERTRAGSABLAUF))
    if start and main_due is None:
        main_due = start
        outcome.warn(
            td1.line, f.HAUPTFAELLIGKEIT.label("0200"), _("No Hauptfälligkeit; the start date is used.")
        )
    payment = td1.get(f.ZAHLUNGSWEISE).strip()
    if payment not in PAYMENT_CODES:
        error(
            f.ZAHLUNGSWEISE, _("“%(value)s” is not a GDV Zahlungsweise code.") % {"value": payment}, payment
        )
    status = td1.get(f.VERTRAGSSTATUS).strip()
    if status not in CONTRACT_STATUS_CODES:
        error(
            f.VERTRAGSSTATUS, _("“%(value)s” is not a GDV Vertragsstatus code.") % {"value": status}, status
        )
    currency = td1.get(f.WAEHRUNG).strip()
    if currency not in ("", "EUR"):
        error(f.WAEHRUNG, _("Only amounts in EUR can be imported."), currency)
    try:
        premium = f.parse_amount(td1.get(f.GESAMTBEITRAG_NETTO), 2)
    except ValueError:
        premium = None  # reported while reading the structure
    holder = holders.get(td1.contract_key)
    if td1.contract_key not in holders:
        outcome.error(
            td1.line,
            "0100",
            _("The contract %(number)s has no policyholder address (0100, Adresskennzeichen 01).")
            % {"number": policy_number},
        )
    if outcome.error_count != errors_before or premium is None or holder is None:
        return None
    return ContractData(
        line=td1.line,
        vu_number=vu_number,
        sparte=sparte,
        policy_number=policy_number,
        line_of_business=line,
        status=status,
        payment_frequency=payment,
        start_date=start,
        end_date=end,
        main_due_date=main_due,
        annual_premium=annual_premium(premium, payment),
        person=holder,
    )


def annual_premium(premium: Decimal, payment_frequency: str) -> Decimal:
    if payment_frequency == THREE_YEARLY:
        return (premium / 3).quantize(Decimal("0.01"))
    return (premium * ANNUAL_FACTOR.get(payment_frequency, Decimal(1))).quantize(Decimal("0.01"))


# Matching and writing -------------------------------------------------------------------------


def apply_plan(plan: Plan, *, commit: bool, by, outcome: Outcome, reason: str = "") -> None:
    write = commit and not outcome.error_count
    insurers = _insurers(plan, write=write, outcome=outcome)
    _match_persons(plan, insurers, outcome)
    new_persons = [p for p in plan.persons if p.customer is None]
    outcome.counts["customers_create"] = len(new_persons)
    outcome.counts["customers_match"] = len(plan.persons) - len(new_persons)
    contracts_new, contracts_changed, fields = _contracts(plan, insurers, outcome)
    if not write or outcome.error_count:
        return
    size = conf.batch_size()
    numbers = _new_numbers(new_persons)
    customers = []
    for person, number in zip(new_persons, numbers, strict=True):
        person.customer = Customer(
            number=number,
            kind=person.kind,
            salutation=person.salutation,
            title=person.title,
            first_name=person.first_name,
            name=person.name,
            birth_date=person.birth_date,
            email=person.email,
            phone=person.phone,
            street=person.street,
            postal_code=person.postal_code,
            city=person.city,
            country=person.country,
            marital_status=person.marital_status,
        )
        customers.append(person.customer)
    Customer.objects.bulk_create(customers, batch_size=size)
    record_history(Customer, customers, update=False, by=by, reason=reason)
    references = [
        InsurerCustomerNumber(insurer=insurers[p.vu_number], number=p.insurer_number, customer=p.customer)
        for p in plan.persons
        if p.insurer_number and not p.has_reference
    ]
    InsurerCustomerNumber.objects.bulk_create(references, batch_size=size, ignore_conflicts=True)
    created = []
    for data, contract in contracts_new:
        contract.customer = data.person.customer  # saved above, so it has its primary key now
        created.append(contract)
    Contract.objects.bulk_create(created, batch_size=size)
    record_history(Contract, created, update=False, by=by, reason=reason)
    if contracts_changed:
        Contract.objects.bulk_update(contracts_changed, sorted(fields), batch_size=size)
        record_history(Contract, contracts_changed, update=True, by=by, reason=reason)
    outcome.ids = [c.pk for c in created + contracts_changed][: conf.MAX_LISTED_RESULTS]


def _insurers(plan: Plan, *, write: bool, outcome: Outcome) -> dict[str, Insurer]:
    wanted = sorted({c.vu_number for c in plan.contracts} | {p.vu_number for p in plan.persons})
    by_vu = {i.vu_number: i for i in Insurer.objects.filter(vu_number__in=wanted)}
    result: dict[str, Insurer] = {}
    for vu_number in wanted:
        insurer = by_vu.get(vu_number)
        if insurer is None:
            name = plan.senders.get(vu_number) or _("Insurer with VU number %(vu)s") % {"vu": vu_number}
            same_name = Insurer.objects.filter(name__iexact=name).first()
            if same_name is not None and not same_name.vu_number:
                insurer = same_name
                insurer.vu_number = vu_number
                outcome.counts["insurers_update"] += 1
                if write:
                    insurer.save(update_fields=["vu_number"])
            else:
                if same_name is not None:
                    name = f"{name} ({vu_number})"
                insurer = Insurer(name=name[:200], vu_number=vu_number)
                outcome.counts["insurers_create"] += 1
                if write:
                    insurer.save()
        result[vu_number] = insurer
    return result


def _batches(values, size: int | None = None):
    """The keys of a lookup in batches: one query per batch, never an unbounded IN list."""
    values = sorted(values)
    size = size or conf.batch_size()
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _match_persons(plan: Plan, insurers: dict[str, Insurer], outcome: Outcome) -> None:
    persons = plan.persons
    by_number: dict[str, Customer] = {}
    for batch in _batches({p.broker_number for p in persons if p.broker_number}):
        by_number.update((c.number, c) for c in Customer.objects.filter(number__in=batch))
    saved = [i for i in insurers.values() if i.pk]
    references: dict[tuple[int, str], Customer] = {}
    for batch in _batches({p.insurer_number for p in persons if p.insurer_number}):
        found = InsurerCustomerNumber.objects.filter(insurer__in=saved, number__in=batch).select_related(
            "customer"
        )
        references.update(((ref.insurer_id, ref.number), ref.customer) for ref in found)
    candidates: dict[tuple, list[Customer]] = {}
    for batch in _batches({p.name.lower() for p in persons}):
        for customer in Customer.objects.annotate(lname=Lower("name")).filter(lname__in=batch):
            key = identity(
                customer.name, customer.first_name, customer.birth_date, customer.postal_code, customer.street
            )
            candidates.setdefault(key, []).append(customer)
    for person in persons:
        insurer = insurers.get(person.vu_number)
        referenced = None
        if person.insurer_number and insurer is not None and insurer.pk:
            referenced = references.get((insurer.pk, person.insurer_number))
            person.has_reference = referenced is not None
        if person.broker_number and person.broker_number in by_number:
            person.customer = by_number[person.broker_number]
        else:
            person.customer = referenced
        if person.customer is None:
            found = candidates.get(person.identity, [])
            if len(found) > 1:
                outcome.error(
                    person.line,
                    "0100",
                    _("Several customers match %(name)s (%(numbers)s); merge them first.")
                    % {"name": person.name, "numbers": ", ".join(c.number for c in found)},
                )
            elif found:
                person.customer = found[0]
        if person.customer is not None and person.customer.restricted_at is not None:
            outcome.error(person.line, "0100", str(RESTRICTED), person.customer.number)
        if person.customer is None and person.broker_number and len(person.broker_number) > 20:
            outcome.error(
                person.line,
                f.KUNDENNR_VM.label("0100"),
                _("The customer number is longer than 20 characters."),
            )


def _contracts(plan: Plan, insurers: dict[str, Insurer], outcome: Outcome):
    saved = [i for i in insurers.values() if i.pk]
    existing: dict[tuple[int, str], Contract] = {}
    for batch in _batches({c.policy_number for c in plan.contracts}):
        found = Contract.objects.filter(insurer__in=saved, policy_number__in=batch).annotate(
            customer_restricted_at=F("customer__restricted_at")
        )
        existing.update(((c.insurer_id, c.policy_number), c) for c in found)
    created, changed, fields = [], [], set()
    now = timezone.now()
    for data in plan.contracts:
        insurer = insurers[data.vu_number]
        values = {
            "line_of_business_id": data.line_of_business.pk,
            "status": data.status,
            "start_date": data.start_date,
            "end_date": data.end_date,
            "main_due_date": data.main_due_date,
            "payment_frequency": data.payment_frequency,
            "annual_premium": data.annual_premium,
        }
        contract = existing.get((insurer.pk, data.policy_number)) if insurer.pk else None
        if contract is None:
            new = Contract(
                insurer=insurer, customer=data.person.customer, policy_number=data.policy_number, **values
            )
            created.append((data, new))
            continue
        if contract.customer_restricted_at is not None:
            outcome.error(data.line, f.VS_NR.label("0200"), str(RESTRICTED), data.policy_number)
            continue
        if data.person.customer is not None and contract.customer_id != data.person.customer.pk:
            outcome.warn(
                data.line,
                f.VS_NR.label("0200"),
                _("The contract belongs to another customer in the CRM; it stays with that customer."),
                data.policy_number,
            )
        changes = {name: value for name, value in values.items() if getattr(contract, name) != value}
        if not changes:
            outcome.counts["unchanged"] += 1
            continue
        for name, value in changes.items():
            setattr(contract, name, value)
        contract.version += 1
        contract.updated_at = now
        changed.append(contract)
        fields |= set(changes) | {"version", "updated_at"}
    outcome.counts["create"] = len(created)
    outcome.counts["update"] = len(changed)
    return created, changed, fields


def _new_numbers(persons: list[Person]) -> list[str]:
    """The broker's own number from the file where it is free, else the next G0000001, …"""
    prefix, digits = conf.GDV_CUSTOMER_NUMBER_PREFIX, conf.GDV_CUSTOMER_NUMBER_DIGITS
    taken: set[str] = set()
    for batch in _batches({p.broker_number for p in persons if p.broker_number}):
        taken.update(Customer.objects.filter(number__in=batch).values_list("number", flat=True))
    last = (
        Customer.objects.filter(number__regex=rf"^{re.escape(prefix)}[0-9]{{{digits}}}$")
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    counter = int(last[len(prefix) :]) if last else 0
    numbers = []
    for person in persons:
        if person.broker_number and person.broker_number not in taken:
            numbers.append(person.broker_number)
            taken.add(person.broker_number)
            continue
        counter += 1
        numbers.append(f"{prefix}{counter:0{digits}d}")
    return numbers
