"""Writes of the customers app: customers, households, consents, contracts, Courtage bookings
and the contact log. Every function re-checks its rules, so a caller other than the forms
(an import, the shell) cannot write what the forms would refuse.

Customers and contracts are saved with optimistic locking: the caller names the `version` it
edited, the UPDATE matches only that version and raises `EditConflict` when someone else saved
in the meantime, so nobody's changes are overwritten silently. `QuerySet.update()` sends no
signal, so those functions write the audit row (django-simple-history) themselves.

A customer restricted after an erasure request (Art. 18 DSGVO, see `privacy.py`) is locked:
every write for it is refused with `RESTRICTED`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from brokercrm.accounts.models import User

from .models import (
    Activity,
    CommissionBooking,
    Contract,
    Customer,
    Household,
    MarketingConsent,
    OfficeSettings,
)
from .validators import validate_postal_code

CUSTOMER_FIELDS = (
    "kind",
    "salutation",
    "title",
    "first_name",
    "name",
    "birth_date",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
    "advisor",
    "status",
    "referred_by",
    "occupation",
    "marital_status",
    "homeowner",
    "cars",
    "children",
)
CONTRACT_FIELDS = (
    "insurer",
    "line_of_business",
    "policy_number",
    "status",
    "start_date",
    "end_date",
    "main_due_date",
    "notice_period_months",
    "payment_frequency",
    "annual_premium",
)
BOOKING_FIELDS = ("contract", "booked_on", "amount", "kind", "statement_reference")
ACTIVITY_FIELDS = ("kind", "occurred_at", "subject", "notes")

CUSTOMER_NUMBER = re.compile(r"^K(\d+)$")
NUMBER_ATTEMPTS = 5

CUSTOMER_CONFLICT = _("Someone else changed this customer in the meantime; reload to see their changes.")
CONTRACT_CONFLICT = _("Someone else changed this contract in the meantime; reload to see their changes.")
SELF_REFERRAL = _("A customer cannot refer themselves.")
DUPLICATE_POLICY = _("This insurer already has a contract with this policy number.")
END_BEFORE_START = _("The end lies before the start.")
CONTRACT_OF_OTHER_CUSTOMER = _("This contract belongs to another customer.")
RESTRICTED = _(
    "This customer's data is restricted after an erasure request (Art. 18 DSGVO): it is only "
    "kept until the retention period ends and may not be changed or used."
)
CONTRACT_HAS_BOOKINGS = _(
    "This contract has Courtage bookings, which are accounting records and must be kept. "
    "Cancel the contract instead (status “cancelled”)."
)


class EditConflict(Exception):
    """Raised when the record changed since the version the user edited."""


def _pick(data: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: data[name] for name in fields if name in data}


def ensure_usable(customer: Customer) -> None:
    """Refuse any write for a customer restricted under Art. 18 DSGVO."""
    if customer.restricted_at is not None:
        raise ValidationError(RESTRICTED, code="restricted")


def _attribute_to(instance, by: User | None) -> None:
    """The user the audit row names (without one, the request's user from the middleware)."""
    if by is not None:
        instance._history_user = by


def record_history(instance, *, by: User | None, when: dt.datetime, reason: str = "") -> None:
    """The audit row for a change written with `QuerySet.update()` (which sends no signal).
    `instance` must hold the values now in the row."""
    type(instance).history.bulk_history_create(
        [instance], update=True, default_user=by, default_date=when, default_change_reason=reason
    )


# --- customers -------------------------------------------------------------------------------


def customer_errors(customer: Customer) -> dict[str, list]:
    """Rules that are not field validators of the model: the German PLZ and self-referral."""
    errors: dict[str, list] = {}
    try:
        validate_postal_code(customer.postal_code, customer.country)
    except ValidationError as exc:
        errors["postal_code"] = exc.error_list
    if customer.pk and customer.referred_by_id == customer.pk:
        errors["referred_by"] = [ValidationError(SELF_REFERRAL, code="self_referral")]
    return errors


def _validate_customer(customer: Customer) -> None:
    customer.country = (customer.country or "").upper()
    errors = customer_errors(customer)
    if errors:
        raise ValidationError(errors)
    customer.full_clean(exclude=["number"] if not customer.number else None)


def _next_customer_number() -> str:
    last = Customer.objects.order_by("-number").values_list("number", flat=True).first() or ""
    match = CUSTOMER_NUMBER.match(last)
    if match:
        return f"K{int(match.group(1)) + 1:07d}"
    last_id = Customer.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return f"K{last_id + 1:07d}"


def _household(
    *,
    current: Household | None,
    household_with: Customer | None,
    new_household: str,
    leave_household: bool,
    by: User | None,
) -> Household | None:
    """The household a customer ends up in: a new one, the one of the customer they live with
    (created for both if that customer had none), none, or the current one."""
    if household_with is not None:
        ensure_usable(household_with)
    if new_household:
        return Household.objects.create(name=new_household.strip())
    if household_with is not None:
        if household_with.household_id:
            return household_with.household
        household = Household.objects.create(name=household_with.name)
        now = timezone.now()
        Customer.objects.filter(pk=household_with.pk).update(
            household=household, version=F("version") + 1, updated_at=now
        )
        household_with.refresh_from_db()
        record_history(household_with, by=by, when=now)
        return household
    return None if leave_household else current


@transaction.atomic
def customer_create(
    *,
    data: Mapping[str, Any],
    by: User | None,
    number: str = "",
    household_with: Customer | None = None,
    new_household: str = "",
) -> Customer:
    """Create a customer; without a number the next free `K0000000` number is assigned."""
    customer = Customer(**_pick(data, CUSTOMER_FIELDS), number=number)
    _validate_customer(customer)
    customer.household = _household(
        current=None,
        household_with=household_with,
        new_household=new_household,
        leave_household=False,
        by=by,
    )
    _attribute_to(customer, by)
    if number:
        customer.save()
        return customer
    for attempt in range(NUMBER_ATTEMPTS):
        customer.number = _next_customer_number()
        try:
            with transaction.atomic():
                customer.save()
            return customer
        except IntegrityError:  # someone took that number at the same moment
            customer.pk = None
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def customer_update(
    *,
    customer: Customer,
    data: Mapping[str, Any],
    version: int,
    by: User | None,
    household_with: Customer | None = None,
    new_household: str = "",
    leave_household: bool = False,
) -> Customer:
    """Save the customer's master data if nobody saved it since `version` was read."""
    ensure_usable(customer)
    if household_with is not None and household_with.pk == customer.pk:
        raise ValidationError({"household": _("Enter the number of another customer.")})
    fields = _pick(data, CUSTOMER_FIELDS)
    for name, value in fields.items():
        setattr(customer, name, value)
    _validate_customer(customer)
    fields["country"] = customer.country
    fields["household"] = _household(
        current=customer.household,
        household_with=household_with,
        new_household=new_household,
        leave_household=leave_household,
        by=by,
    )
    now = timezone.now()
    updated = Customer.objects.filter(pk=customer.pk, version=version, restricted_at__isnull=True).update(
        **fields, version=F("version") + 1, updated_at=now
    )
    if not updated:
        raise EditConflict(CUSTOMER_CONFLICT)
    customer.household = fields["household"]
    customer.version = version + 1
    customer.updated_at = now
    record_history(customer, by=by, when=now)
    return customer


# --- marketing consent ------------------------------------------------------------------------


@transaction.atomic
def consent_grant(
    *,
    customer: Customer,
    channel: str,
    granted_on: dt.date,
    source: str,
    wording: str = "",
    by: User | None,
) -> MarketingConsent:
    """Record consent for one channel; a new consent replaces a withdrawn or older one."""
    ensure_usable(customer)
    consent = MarketingConsent.objects.filter(customer=customer, channel=channel).first() or MarketingConsent(
        customer=customer, channel=channel
    )
    consent.granted_on = granted_on
    consent.source = source
    consent.wording = wording
    consent.withdrawn_on = None
    consent.full_clean(validate_unique=False)
    _attribute_to(consent, by)
    consent.save()
    from brokercrm.jobs import after_consent_change

    # Letters that replaced calls or e-mails on the channel go back to it at once.
    after_consent_change(customer_id=customer.pk, channel=channel, in_force=True)
    return consent


@transaction.atomic
def consent_withdraw(
    *, consent: MarketingConsent, withdrawn_on: dt.date, by: User | None
) -> MarketingConsent:
    ensure_usable(consent.customer)
    if withdrawn_on > timezone.localdate():
        raise ValidationError({"withdrawn_on": _("This date lies in the future.")})
    if withdrawn_on < consent.granted_on:
        raise ValidationError({"withdrawn_on": _("Consent cannot be withdrawn before it was granted.")})
    consent.withdrawn_on = withdrawn_on
    _attribute_to(consent, by)
    consent.save(update_fields=["withdrawn_on", "updated_at"])
    from brokercrm.jobs import after_consent_change

    # Open marketing tasks on the channel become letters at once (with the task's note).
    after_consent_change(customer_id=consent.customer_id, channel=consent.channel, in_force=False)
    return consent


# --- contracts --------------------------------------------------------------------------------


def contract_errors(contract: Contract) -> dict[str, list]:
    """Rules the forms show at a field before the database constraints would refuse them."""
    errors: dict[str, list] = {}
    if contract.end_date and contract.start_date and contract.end_date < contract.start_date:
        errors["end_date"] = [ValidationError(END_BEFORE_START, code="end_before_start")]
    if contract.insurer_id and contract.policy_number:
        duplicates = Contract.objects.filter(
            insurer_id=contract.insurer_id, policy_number=contract.policy_number
        )
        if contract.pk:
            duplicates = duplicates.exclude(pk=contract.pk)
        if duplicates.exists():
            errors["policy_number"] = [ValidationError(DUPLICATE_POLICY, code="duplicate_policy")]
    return errors


def _validate_contract(contract: Contract) -> None:
    errors = contract_errors(contract)
    if errors:
        raise ValidationError(errors)
    contract.full_clean()


def _duplicate_policy_from_db() -> ValidationError:
    # The unique constraint caught a duplicate saved between our check and our write.
    return ValidationError({"policy_number": [ValidationError(DUPLICATE_POLICY, code="duplicate_policy")]})


@transaction.atomic
def contract_create(*, customer: Customer, data: Mapping[str, Any], by: User | None) -> Contract:
    ensure_usable(customer)
    contract = Contract(customer=customer, **_pick(data, CONTRACT_FIELDS))
    _validate_contract(contract)
    _attribute_to(contract, by)
    try:
        with transaction.atomic():
            contract.save()
    except IntegrityError as exc:
        raise _duplicate_policy_from_db() from exc
    return contract


@transaction.atomic
def contract_update(
    *, contract: Contract, data: Mapping[str, Any], version: int, by: User | None
) -> Contract:
    """Save the contract if nobody saved it since `version` was read."""
    ensure_usable(contract.customer)
    fields = _pick(data, CONTRACT_FIELDS)
    for name, value in fields.items():
        setattr(contract, name, value)
    _validate_contract(contract)
    now = timezone.now()
    try:
        with transaction.atomic():
            updated = Contract.objects.filter(pk=contract.pk, version=version).update(
                **fields, version=F("version") + 1, updated_at=now
            )
    except IntegrityError as exc:
        raise _duplicate_policy_from_db() from exc
    if not updated:
        raise EditConflict(CONTRACT_CONFLICT)
    contract.version = version + 1
    contract.updated_at = now
    record_history(contract, by=by, when=now)
    return contract


@transaction.atomic
def contract_delete(*, contract: Contract, by: User | None) -> None:
    """Delete a contract without bookings; one with bookings is protected (see CommissionBooking)."""
    ensure_usable(contract.customer)
    if contract.bookings.exists():
        raise ValidationError(CONTRACT_HAS_BOOKINGS, code="protected")
    _attribute_to(contract, by)
    try:
        contract.delete()
    except ProtectedError as exc:  # a booking arrived in the meantime
        raise ValidationError(CONTRACT_HAS_BOOKINGS, code="protected") from exc


# --- Courtage bookings ------------------------------------------------------------------------


def booking_errors(booking: CommissionBooking) -> dict[str, list]:
    errors: dict[str, list] = {}
    amount = booking.amount
    if amount is not None:
        if amount == 0:
            errors["amount"] = [ValidationError(_("The amount cannot be zero."), code="zero")]
        elif booking.kind == CommissionBooking.Kind.CLAWBACK and amount > 0:
            errors["amount"] = [
                ValidationError(_("A claw-back is booked as a negative amount."), code="sign")
            ]
        elif booking.kind != CommissionBooking.Kind.CLAWBACK and amount < 0:
            errors["amount"] = [
                ValidationError(
                    _("Only claw-backs are negative; enter a positive amount for this kind."), code="sign"
                )
            ]
    return errors


@transaction.atomic
def booking_create(*, customer: Customer, data: Mapping[str, Any], by: User | None) -> CommissionBooking:
    """Book Courtage on one of the customer's own contracts."""
    ensure_usable(customer)
    booking = CommissionBooking(**_pick(data, BOOKING_FIELDS), created_by=by)
    errors = booking_errors(booking)
    if booking.contract_id is not None and booking.contract.customer_id != customer.pk:
        errors["contract"] = [ValidationError(CONTRACT_OF_OTHER_CUSTOMER, code="other_customer")]
    if errors:
        raise ValidationError(errors)
    booking.full_clean()
    _attribute_to(booking, by)
    booking.save()
    return booking


# --- contact log ------------------------------------------------------------------------------


@transaction.atomic
def activity_create(*, customer: Customer, data: Mapping[str, Any], by: User | None) -> Activity:
    ensure_usable(customer)
    fields = _pick(data, ACTIVITY_FIELDS)
    if not fields.get("occurred_at"):
        fields["occurred_at"] = timezone.now()
    activity = Activity(customer=customer, user=by, **fields)
    activity.full_clean()
    activity.save()
    return activity


# --- office settings --------------------------------------------------------------------------


@transaction.atomic
def office_settings_update(*, staff_sees_own_customers_only: bool, by: User | None) -> OfficeSettings:
    """Switch the staff's view of the book between all customers and their own (audited)."""
    office = OfficeSettings.objects.select_for_update().filter(pk=1).first() or OfficeSettings(pk=1)
    if office._state.adding or office.staff_sees_own_customers_only != staff_sees_own_customers_only:
        office.staff_sees_own_customers_only = staff_sees_own_customers_only
        _attribute_to(office, by)
        office.save()
    return office
