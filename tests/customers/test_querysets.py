"""The QuerySet methods the list filters are built on."""

import datetime as dt

import pytest

from customers import gdv
from customers.models import Contract, Customer
from tests.factories import ContractFactory, CustomerFactory, line

pytestmark = pytest.mark.django_db


def test_search_matches_name_number_plz_and_city():
    anna = CustomerFactory(first_name="Anna", name="Schmidt", postal_code="06526", city="Sangerhausen")
    CustomerFactory(first_name="Bernd", name="Meier", postal_code="10115", city="Berlin")

    for term in ("schmidt", "anna", anna.number.lower(), "065", "sanger", "Anna Sangerhausen"):
        assert list(Customer.objects.search(term)) == [anna], term


def test_search_needs_every_word_to_match():
    CustomerFactory(first_name="Anna", name="Schmidt", city="Sangerhausen")

    assert not Customer.objects.search("Anna Berlin").exists()


def test_holding_line_counts_only_active_contracts():
    holder = CustomerFactory()
    ContractFactory(customer=holder, line_of_business=line("041"))
    cancelled = CustomerFactory()
    ContractFactory(customer=cancelled, line_of_business=line("041"), status=gdv.CANCELLED_STATUS)
    CustomerFactory()

    assert list(Customer.objects.holding_line("041")) == [holder]


def test_in_class_and_active():
    a = CustomerFactory(segment="A")
    CustomerFactory(segment="C")
    CustomerFactory(segment="A", status=Customer.Status.FORMER)

    assert list(Customer.objects.active().in_class("A")) == [a]


def test_due_within_finds_main_due_date_in_the_window():
    today = dt.date(2026, 6, 1)
    soon = ContractFactory(main_due_date=dt.date(2020, 6, 20), notice_period_months=0)
    ContractFactory(main_due_date=dt.date(2020, 8, 20), notice_period_months=0)

    assert list(Contract.objects.due_within(30, today)) == [soon]


def test_due_within_finds_cancellation_deadline_in_the_window():
    today = dt.date(2026, 6, 1)
    # Hauptfälligkeit 01.09., three months' notice: deadline 01.06., today.
    deadline_now = ContractFactory(main_due_date=dt.date(2020, 9, 1), notice_period_months=3)
    ContractFactory(main_due_date=dt.date(2020, 12, 1), notice_period_months=3)

    assert list(Contract.objects.due_within(10, today)) == [deadline_now]


@pytest.mark.parametrize("prefix", ["0", "06", "065", "06526", "1", "10115"])
def test_a_plz_prefix_finds_exactly_the_postal_codes_starting_with_it(prefix):
    for plz in ("06526", "06108", "06999", "07545", "01067", "10115", "60311"):
        CustomerFactory(postal_code=plz)

    found = sorted(Customer.objects.postal_code_starting(prefix).values_list("postal_code", flat=True))

    assert found == sorted(
        p for p in Customer.objects.values_list("postal_code", flat=True) if p.startswith(prefix)
    )
    assert found  # every prefix above matches something


def test_the_sparten_ids_are_kept_and_read_again_after_a_change(django_assert_num_queries):
    from customers.models import LineOfBusiness
    from customers.querysets import _line_id

    hausrat = line("130")
    assert _line_id("130") == hausrat.pk
    with django_assert_num_queries(0):
        assert _line_id("130") == hausrat.pk  # kept: no query per filtered list
    new = LineOfBusiness.objects.create(
        code="9999", name="Eigene Sparte", short_name="Eigene", gdv_code="999"
    )
    assert _line_id("9999") == new.pk  # saved here: read again at once
    assert _line_id("nope") is None
