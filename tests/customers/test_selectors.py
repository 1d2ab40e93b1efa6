"""The reads behind the pages: one query each, with the figures computed in the database."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import selectors
from customers.models import CommissionBooking
from tests.factories import (
    ActivityFactory,
    CommissionBookingFactory,
    ContractFactory,
    CustomerFactory,
    HouseholdFactory,
    line,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 15)


def test_courtage_of_the_last_twelve_months_per_contract_in_one_query():
    customer = CustomerFactory()
    phv = ContractFactory(customer=customer, line_of_business=line("041"))
    kfz = ContractFactory(customer=customer, line_of_business=line("051"))
    ContractFactory(customer=customer, line_of_business=line("130"))  # no bookings
    CommissionBookingFactory(contract=phv, booked_on=TODAY, amount=Decimal("20.00"))
    CommissionBookingFactory(contract=phv, booked_on=dt.date(2025, 6, 16), amount=Decimal("5.00"))
    CommissionBookingFactory(contract=phv, booked_on=dt.date(2025, 6, 15), amount=Decimal("99.00"))  # too old
    CommissionBookingFactory(contract=kfz, booked_on=dt.date(2026, 1, 1), amount=Decimal("100.00"))
    CommissionBookingFactory(
        contract=kfz,
        booked_on=dt.date(2026, 2, 1),
        amount=Decimal("-30.00"),
        kind=CommissionBooking.Kind.CLAWBACK,
    )
    CommissionBookingFactory(contract=kfz, booked_on=dt.date(2026, 6, 16), amount=Decimal("7.00"))  # future

    with CaptureQueriesContext(connection) as ctx:
        courtage = {
            c.line_of_business.code: c.courtage_12m
            for c in selectors.customer_contracts(customer=customer, today=TODAY)
        }

    assert len(ctx.captured_queries) == 1
    assert courtage == {"041": Decimal("25.00"), "051": Decimal("70.00"), "130": Decimal("0")}


def test_courtage_window_on_the_29th_of_february():
    assert selectors.courtage_window(dt.date(2028, 2, 29)) == (dt.date(2027, 2, 28), dt.date(2028, 2, 29))


def test_customer_page_collects_household_referrals_consents_bookings_and_timeline():
    household = HouseholdFactory()
    customer = CustomerFactory(household=household)
    partner = CustomerFactory(household=household)
    referrals = CustomerFactory.create_batch(3, referred_by=customer)
    active = ContractFactory(customer=customer, annual_premium=Decimal("100.00"))
    ContractFactory(customer=customer, annual_premium=Decimal("50.00"), status="4")
    booking = CommissionBookingFactory(contract=active, booked_on=TODAY, amount=Decimal("12.00"))
    older = ActivityFactory(customer=customer, occurred_at=dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC))
    newer = ActivityFactory(customer=customer, occurred_at=dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC))

    page = selectors.customer_page(customer=customer, today=TODAY)

    assert page.household_members == [partner]
    assert page.referral_count == 3
    assert sorted(r.pk for r in page.referrals) == sorted(r.pk for r in referrals)
    assert page.premium_total == Decimal("100.00")  # only active contracts
    assert page.courtage_total == Decimal("12.00")
    assert page.recent_bookings == [booking]
    assert page.timeline == [newer, older]


def test_referral_count_beyond_the_listed_referrals(monkeypatch):
    monkeypatch.setattr(selectors, "REFERRALS_LIMIT", 2)
    customer = CustomerFactory()
    CustomerFactory.create_batch(5, referred_by=customer)

    page = selectors.customer_page(customer=customer, today=TODAY)

    assert (len(page.referrals), page.referral_count) == (2, 5)


def test_customer_list_applies_the_filters():
    a = CustomerFactory(segment="A", postal_code="06526")
    CustomerFactory(segment="A", postal_code="10115")
    CustomerFactory(segment="C", postal_code="06526")

    assert list(selectors.customer_list(filters={"segment": "A", "plz": "06"})) == [a]


def test_customer_list_with_invalid_filters_is_empty():
    CustomerFactory()

    assert not selectors.customer_list(filters={"min_potential": "abc"}).exists()


def test_customer_list_without_filters_is_everyone():
    CustomerFactory.create_batch(3)

    assert selectors.customer_list(filters=None).count() == 3


def test_contract_due_rank_orders_by_the_next_main_due_date():
    december = ContractFactory(main_due_date=dt.date(2020, 12, 1))
    july = ContractFactory(main_due_date=dt.date(2020, 7, 1))
    january = ContractFactory(main_due_date=dt.date(2020, 1, 1))
    today_due = ContractFactory(main_due_date=dt.date(2020, 6, 15))

    ordered = list(selectors.contract_queryset(today=TODAY).order_by("due_rank", "id"))

    assert ordered == [today_due, july, december, january]


def test_contract_list_renewal_window():
    due = ContractFactory(main_due_date=dt.date(2020, 7, 1), notice_period_months=0)
    ContractFactory(main_due_date=dt.date(2020, 11, 1), notice_period_months=0)

    assert list(selectors.contract_list(filters={"due_within": "30"}, today=TODAY)) == [due]


def test_booking_contracts_are_only_the_customers_own():
    own = ContractFactory()
    ContractFactory()

    assert list(selectors.booking_contracts(customer=own.customer)) == [own]


def test_contract_with_booking_count():
    booking = CommissionBookingFactory()
    CommissionBookingFactory(contract=booking.contract)

    assert selectors.contract_with_booking_count().get(pk=booking.contract_id).booking_count == 2


def test_customer_by_number():
    customer = CustomerFactory(number="K0000042")

    assert selectors.customer_by_number(" k0000042 ") == customer
    assert selectors.customer_by_number("K0000043") is None
