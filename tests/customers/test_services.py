"""The write services: each rule is checked again here, and nothing is written on a refusal."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers import gdv, services
from customers.models import Activity, CommissionBooking, Contract, Customer, Household, MarketingConsent
from tests.factories import (
    CommissionBookingFactory,
    ContractFactory,
    CustomerFactory,
    HouseholdFactory,
    InsurerFactory,
    MarketingConsentFactory,
    line,
)

pytestmark = pytest.mark.django_db


def customer_data(**overrides):
    data = {
        "kind": Customer.Kind.PERSON,
        "salutation": "2",
        "first_name": "Erika",
        "name": "Mustermann",
        "birth_date": dt.date(1975, 3, 4),
        "email": "erika@example.org",
        "street": "Markt 1",
        "postal_code": "06526",
        "city": "Sangerhausen",
        "country": "DE",
        "status": Customer.Status.ACTIVE,
    }
    return {**data, **overrides}


def contract_data(**overrides):
    data = {
        "insurer": InsurerFactory(),
        "line_of_business": line("041"),
        "policy_number": "PHV-1",
        "status": "1",
        "start_date": dt.date(2025, 1, 1),
        "main_due_date": dt.date(2025, 1, 1),
        "notice_period_months": 3,
        "payment_frequency": "1",
        "annual_premium": Decimal("89.00"),
    }
    return {**data, **overrides}


# --- customers ------------------------------------------------------------------------------


def test_customer_create_assigns_the_next_free_number(staff):
    CustomerFactory(number="K0000041")

    customer = services.customer_create(data=customer_data(), by=staff)

    assert customer.number == "K0000042"
    assert Customer.objects.get(number="K0000042").name == "Mustermann"


def test_customer_create_keeps_a_given_number(staff):
    customer = services.customer_create(data=customer_data(), number="X-1", by=staff)

    assert Customer.objects.get(pk=customer.pk).number == "X-1"


def test_customer_create_refuses_a_bad_german_plz(staff):
    with pytest.raises(ValidationError) as exc:
        services.customer_create(data=customer_data(postal_code="1234"), by=staff)

    assert "postal_code" in exc.value.error_dict
    assert not Customer.objects.exists()


def test_customer_create_allows_foreign_postal_codes(staff):
    customer = services.customer_create(data=customer_data(postal_code="1010", country="at"), by=staff)

    assert customer.country == "AT"


def test_customer_create_refuses_a_future_birth_date(staff):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    with pytest.raises(ValidationError) as exc:
        services.customer_create(data=customer_data(birth_date=tomorrow), by=staff)

    assert "birth_date" in exc.value.error_dict
    assert not Customer.objects.exists()


def test_customer_create_with_a_new_household(staff):
    customer = services.customer_create(data=customer_data(), new_household="Familie Mustermann", by=staff)

    assert customer.household.name == "Familie Mustermann"


def test_customer_joining_someone_without_household_creates_one_for_both(staff):
    partner = CustomerFactory(name="Mustermann", household=None)

    customer = services.customer_create(data=customer_data(), household_with=partner, by=staff)

    partner.refresh_from_db()
    assert customer.household_id == partner.household_id is not None
    assert partner.version == 2


def test_customer_joining_an_existing_household(staff):
    household = HouseholdFactory()
    partner = CustomerFactory(household=household)

    customer = services.customer_create(data=customer_data(), household_with=partner, by=staff)

    assert customer.household == household
    assert Household.objects.count() == 1


def test_customer_update_saves_and_bumps_the_version(staff):
    customer = CustomerFactory(city="Halle", postal_code="06108")

    services.customer_update(
        customer=customer, data={"city": "Leipzig", "postal_code": "04109"}, version=1, by=staff
    )

    customer.refresh_from_db()
    assert (customer.city, customer.version) == ("Leipzig", 2)


def test_customer_update_with_a_stale_version_overwrites_nothing(staff):
    customer = CustomerFactory(city="Halle", postal_code="06108")
    Customer.objects.filter(pk=customer.pk).update(city="Erfurt", version=2)  # someone else saved

    with pytest.raises(services.EditConflict):
        services.customer_update(customer=customer, data={"city": "Leipzig"}, version=1, by=staff)

    customer.refresh_from_db()
    assert (customer.city, customer.version) == ("Erfurt", 2)


def test_customer_update_refuses_self_referral(staff):
    customer = CustomerFactory()

    with pytest.raises(ValidationError) as exc:
        services.customer_update(customer=customer, data={"referred_by": customer}, version=1, by=staff)

    assert "referred_by" in exc.value.error_dict
    customer.refresh_from_db()
    assert customer.referred_by_id is None
    assert customer.version == 1


def test_customer_update_records_the_referrer(staff):
    referrer, customer = CustomerFactory(), CustomerFactory()

    services.customer_update(customer=customer, data={"referred_by": referrer}, version=1, by=staff)

    assert list(referrer.referrals.all()) == [customer]


def test_customer_update_leaves_the_household(staff):
    customer = CustomerFactory(household=HouseholdFactory())

    services.customer_update(customer=customer, data={}, version=1, leave_household=True, by=staff)

    customer.refresh_from_db()
    assert customer.household_id is None


# --- consent ----------------------------------------------------------------------------------


def test_consent_grant_replaces_a_withdrawn_consent(staff):
    consent = MarketingConsentFactory(withdrawn_on=dt.date(2025, 6, 1))

    services.consent_grant(
        customer=consent.customer,
        channel=consent.channel,
        granted_on=dt.date(2026, 1, 10),
        source="Beratungsgespräch",
        wording="Ja",
        by=staff,
    )

    consent.refresh_from_db()
    assert consent.is_active
    assert consent.granted_on == dt.date(2026, 1, 10)
    assert MarketingConsent.objects.count() == 1


def test_consent_withdraw_before_it_was_granted_is_refused(staff):
    consent = MarketingConsentFactory(granted_on=dt.date(2025, 3, 1))

    with pytest.raises(ValidationError) as exc:
        services.consent_withdraw(consent=consent, withdrawn_on=dt.date(2025, 2, 1), by=staff)

    assert "withdrawn_on" in exc.value.error_dict
    consent.refresh_from_db()
    assert consent.is_active


def test_consent_withdraw(staff):
    consent = MarketingConsentFactory(granted_on=dt.date(2025, 3, 1))

    services.consent_withdraw(consent=consent, withdrawn_on=dt.date(2025, 4, 1), by=staff)

    consent.refresh_from_db()
    assert consent.withdrawn_on == dt.date(2025, 4, 1)


# --- contracts --------------------------------------------------------------------------------


def test_contract_create(staff):
    customer = CustomerFactory()

    contract = services.contract_create(customer=customer, data=contract_data(), by=staff)

    assert Contract.objects.get(pk=contract.pk).customer == customer


def test_contract_create_refuses_a_duplicate_policy_number_at_the_same_insurer(staff):
    existing = ContractFactory(policy_number="PHV-1")

    with pytest.raises(ValidationError) as exc:
        services.contract_create(
            customer=CustomerFactory(), data=contract_data(insurer=existing.insurer), by=staff
        )

    assert "policy_number" in exc.value.error_dict
    assert Contract.objects.count() == 1


def test_contract_create_refuses_end_before_start(staff):
    with pytest.raises(ValidationError) as exc:
        services.contract_create(
            customer=CustomerFactory(), data=contract_data(end_date=dt.date(2024, 12, 31)), by=staff
        )

    assert "end_date" in exc.value.error_dict
    assert not Contract.objects.exists()


def test_contract_create_refuses_a_negative_premium(staff):
    with pytest.raises(ValidationError) as exc:
        services.contract_create(
            customer=CustomerFactory(), data=contract_data(annual_premium=Decimal("-5")), by=staff
        )

    assert "annual_premium" in exc.value.error_dict


def test_contract_update_bumps_the_version(staff):
    contract = ContractFactory()

    services.contract_update(
        contract=contract, data={"annual_premium": Decimal("120.00")}, version=1, by=staff
    )

    contract.refresh_from_db()
    assert (contract.annual_premium, contract.version) == (Decimal("120.00"), 2)


def test_contract_update_with_a_stale_version_overwrites_nothing(staff):
    contract = ContractFactory(annual_premium=Decimal("89.00"))
    Contract.objects.filter(pk=contract.pk).update(annual_premium=Decimal("99.00"), version=2)

    with pytest.raises(services.EditConflict):
        services.contract_update(
            contract=contract, data={"annual_premium": Decimal("120.00")}, version=1, by=staff
        )

    contract.refresh_from_db()
    assert contract.annual_premium == Decimal("99.00")


def test_contract_delete_without_bookings(staff):
    contract = ContractFactory()

    services.contract_delete(contract=contract, by=staff)

    assert not Contract.objects.exists()


def test_contract_delete_with_bookings_is_refused(staff):
    booking = CommissionBookingFactory()

    with pytest.raises(ValidationError):
        services.contract_delete(contract=booking.contract, by=staff)

    assert Contract.objects.filter(pk=booking.contract_id).exists()
    assert CommissionBooking.objects.count() == 1


# --- bookings and activities ------------------------------------------------------------------


def booking_data(contract, **overrides):
    data = {
        "contract": contract,
        "booked_on": dt.date(2026, 3, 1),
        "amount": Decimal("22.25"),
        "kind": CommissionBooking.Kind.RECURRING,
        "statement_reference": "AB-2026-03",
    }
    return {**data, **overrides}


def test_booking_create(staff):
    contract = ContractFactory()

    booking = services.booking_create(customer=contract.customer, data=booking_data(contract), by=staff)

    assert booking.created_by == staff
    assert CommissionBooking.objects.get().amount == Decimal("22.25")


def test_booking_on_a_contract_of_another_customer_is_refused(staff):
    contract = ContractFactory()

    with pytest.raises(ValidationError) as exc:
        services.booking_create(customer=CustomerFactory(), data=booking_data(contract), by=staff)

    assert "contract" in exc.value.error_dict
    assert not CommissionBooking.objects.exists()


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        (CommissionBooking.Kind.CLAWBACK, Decimal("10.00")),
        (CommissionBooking.Kind.RECURRING, Decimal("-10.00")),
        (CommissionBooking.Kind.ACQUISITION, Decimal("0")),
    ],
)
def test_booking_sign_must_fit_the_kind(staff, kind, amount):
    contract = ContractFactory()

    with pytest.raises(ValidationError) as exc:
        services.booking_create(
            customer=contract.customer, data=booking_data(contract, kind=kind, amount=amount), by=staff
        )

    assert "amount" in exc.value.error_dict
    assert not CommissionBooking.objects.exists()


def test_clawback_is_booked_negative(staff):
    contract = ContractFactory()

    services.booking_create(
        customer=contract.customer,
        data=booking_data(contract, kind=CommissionBooking.Kind.CLAWBACK, amount=Decimal("-50.00")),
        by=staff,
    )

    assert CommissionBooking.objects.get().amount == Decimal("-50.00")


def test_activity_create_defaults_to_now_and_the_user(staff):
    customer = CustomerFactory()

    activity = services.activity_create(
        customer=customer, data={"kind": "call", "subject": "Rückruf", "occurred_at": None}, by=staff
    )

    assert activity.user == staff
    assert abs(activity.occurred_at - timezone.now()) < dt.timedelta(minutes=1)
    assert Activity.objects.filter(customer=customer).count() == 1


def test_contract_status_constant_cancelled_is_inactive():
    assert gdv.CANCELLED_STATUS not in gdv.ACTIVE_CONTRACT_STATUSES
