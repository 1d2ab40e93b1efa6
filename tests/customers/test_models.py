"""Per-instance facts of the models and the database constraints that back the forms' rules."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from customers.models import CommissionBooking, Contract, Customer
from tests.factories import CommissionBookingFactory, ContractFactory, CustomerFactory, InsurerFactory

pytestmark = pytest.mark.django_db


def test_display_name_of_person_and_company():
    person = CustomerFactory.build(first_name="Anna", name="Schmidt")
    company = CustomerFactory.build(kind=Customer.Kind.COMPANY, first_name="", name="Schmidt GmbH")

    assert person.display_name == "Schmidt, Anna"
    assert company.display_name == "Schmidt GmbH"


def test_age_on_counts_completed_years():
    customer = CustomerFactory.build(birth_date=dt.date(1980, 5, 17))

    assert customer.age_on(dt.date(2026, 5, 16)) == 45
    assert customer.age_on(dt.date(2026, 5, 17)) == 46


@pytest.mark.parametrize(
    ("main_due", "today", "expected"),
    [
        (dt.date(2020, 1, 1), dt.date(2026, 6, 1), dt.date(2027, 1, 1)),
        (dt.date(2020, 7, 1), dt.date(2026, 6, 1), dt.date(2026, 7, 1)),
        (dt.date(2020, 6, 1), dt.date(2026, 6, 1), dt.date(2026, 6, 1)),
        (dt.date(2020, 2, 29), dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
    ],
)
def test_next_main_due(main_due, today, expected):
    contract = ContractFactory.build(main_due_date=main_due)

    assert contract.next_main_due(today) == expected


def test_cancellation_deadline_counts_back_the_notice_period():
    contract = ContractFactory.build(main_due_date=dt.date(2020, 1, 1), notice_period_months=3)

    assert contract.cancellation_deadline(dt.date(2026, 6, 1)) == dt.date(2026, 10, 1)


def test_cancellation_deadline_passed_moves_to_the_next_year():
    contract = ContractFactory.build(main_due_date=dt.date(2020, 1, 1), notice_period_months=3)

    assert contract.cancellation_deadline(dt.date(2026, 11, 15)) == dt.date(2027, 10, 1)


def test_database_refuses_a_customer_referring_themselves():
    customer = CustomerFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(referred_by=customer.pk)


def test_database_refuses_a_negative_premium():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContractFactory(annual_premium=Decimal("-1.00"))


def test_database_refuses_end_before_start():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContractFactory(start_date=dt.date(2026, 1, 1), end_date=dt.date(2025, 12, 31))


def test_database_refuses_a_notice_period_over_twelve_months():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContractFactory(notice_period_months=13)


def test_database_refuses_a_duplicate_policy_number_at_the_same_insurer():
    insurer = InsurerFactory()
    ContractFactory(insurer=insurer, policy_number="4711")

    with pytest.raises(IntegrityError), transaction.atomic():
        ContractFactory(insurer=insurer, policy_number="4711")


def test_same_policy_number_at_another_insurer_is_fine():
    ContractFactory(insurer=InsurerFactory(), policy_number="4711")
    ContractFactory(insurer=InsurerFactory(), policy_number="4711")

    assert Contract.objects.filter(policy_number="4711").count() == 2


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        (CommissionBooking.Kind.CLAWBACK, Decimal("10.00")),
        (CommissionBooking.Kind.RECURRING, Decimal("-10.00")),
        (CommissionBooking.Kind.ACQUISITION, Decimal("0.00")),
    ],
)
def test_database_refuses_a_booking_whose_sign_does_not_fit_its_kind(kind, amount):
    with pytest.raises(IntegrityError), transaction.atomic():
        CommissionBookingFactory(kind=kind, amount=amount)


def test_contract_with_bookings_is_protected_from_deletion():
    booking = CommissionBookingFactory()

    with pytest.raises(ProtectedError):
        booking.contract.delete()

    assert Contract.objects.filter(pk=booking.contract_id).exists()
