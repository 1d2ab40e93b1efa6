"""The audit trail: every change to customers, households, contracts, Courtage bookings and
consents is recorded with who, when and what, and shown in the customer page's history panel."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers import panels, services
from customers.history import customer_history
from customers.models import CommissionBooking, Contract, Customer, MarketingConsent
from tests.factories import (
    CommissionBookingFactory,
    ContractFactory,
    CustomerFactory,
    InsurerFactory,
    MarketingConsentFactory,
    OwnerFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def english_staff(client):
    user = StaffFactory(username="innendienst-en", language="en")
    client.force_login(user)
    return user


def customer_post(customer, **overrides):
    data = {
        "kind": "person", "salutation": "2", "first_name": customer.first_name, "name": customer.name,
        "birth_date": "04.03.1975", "email": customer.email, "street": customer.street,
        "postal_code": customer.postal_code, "city": customer.city, "country": "DE", "status": "active",
        "cars": "0", "children": "0", "version": customer.version,
    }  # fmt: skip
    return {**data, **overrides}


def panel(client, customer, **headers):
    return client.get(reverse("customers:history_panel", args=[customer.pk]), **headers)


# --- what is recorded -------------------------------------------------------------------------


def test_editing_a_customer_records_who_changed_what(client, english_staff):
    customer = CustomerFactory(city="Sangerhausen")

    response = client.post(
        reverse("customers:update", args=[customer.pk]),
        customer_post(customer, city="Halle (Saale)", postal_code="06108"),
    )

    assert response.status_code == 302
    latest = Customer.history.filter(id=customer.pk).latest("history_date")
    assert (latest.history_type, latest.history_user, latest.city) == ("~", english_staff, "Halle (Saale)")
    delta = latest.diff_against(latest.prev_record)
    assert set(delta.changed_fields) >= {"city", "postal_code"}


def test_creating_a_customer_is_recorded_with_the_user(client, english_staff):
    client.post(reverse("customers:create"), customer_post(CustomerFactory.build(), version=""))

    customer = Customer.objects.latest("id")
    created = Customer.history.get(id=customer.pk)
    assert (created.history_type, created.history_user) == ("+", english_staff)


def test_a_contract_saved_with_optimistic_locking_is_recorded(english_staff):
    contract = ContractFactory(annual_premium=Decimal("89.00"))

    services.contract_update(
        contract=contract,
        data={"annual_premium": Decimal("120.00")},
        version=contract.version,
        by=english_staff,
    )

    latest = Contract.history.filter(id=contract.pk).latest("history_date")
    assert (latest.annual_premium, latest.version, latest.history_user) == (
        Decimal("120.00"),
        2,
        english_staff,
    )
    assert latest.diff_against(latest.prev_record).changed_fields == ["annual_premium"]


def test_a_conflicting_edit_records_nothing(english_staff):
    contract = ContractFactory()
    Contract.objects.filter(pk=contract.pk).update(version=2)
    before = Contract.history.filter(id=contract.pk).count()

    with pytest.raises(services.EditConflict):
        services.contract_update(
            contract=contract, data={"policy_number": "NEU"}, version=1, by=english_staff
        )

    assert Contract.history.filter(id=contract.pk).count() == before


def test_deleting_a_contract_is_recorded(english_staff):
    contract = ContractFactory()
    pk = contract.pk

    services.contract_delete(contract=contract, by=english_staff)

    deleted = Contract.history.filter(id=pk).latest("history_date")
    assert (deleted.history_type, deleted.history_user) == ("-", english_staff)


def test_bookings_and_consents_are_recorded(english_staff):
    contract = ContractFactory()
    booking = services.booking_create(
        customer=contract.customer,
        data={
            "contract": contract,
            "booked_on": dt.date(2026, 6, 1),
            "amount": Decimal("25.00"),
            "kind": "recurring",
        },
        by=english_staff,
    )
    consent = services.consent_grant(
        customer=contract.customer,
        channel="email",
        granted_on=dt.date(2026, 1, 5),
        source="Formular",
        by=english_staff,
    )
    services.consent_withdraw(consent=consent, withdrawn_on=dt.date(2026, 2, 1), by=english_staff)

    assert CommissionBooking.history.get(id=booking.pk).history_user == english_staff
    assert list(
        MarketingConsent.history.filter(id=consent.pk)
        .order_by("history_date")
        .values_list("history_type", "withdrawn_on")
    ) == [("+", None), ("~", dt.date(2026, 2, 1))]


def test_joining_another_customers_household_is_recorded_for_both(english_staff):
    other = CustomerFactory()
    customer = CustomerFactory()

    services.customer_update(
        customer=customer, data={}, version=customer.version, by=english_staff, household_with=other
    )

    other.refresh_from_db()
    latest = Customer.history.filter(id=other.pk).latest("history_date")
    assert (latest.household_id, latest.history_user) == (other.household_id, english_staff)


def test_the_nightly_segmentation_columns_are_not_audited():
    fields = {f.name for f in Customer.history.model._meta.fields}

    assert not fields & {"revenue", "potential", "biggest_gap", "classified_at", "segment_since", "segment"}
    customer = CustomerFactory()
    Customer.objects.filter(pk=customer.pk).update(segment="A", revenue=Decimal("900"))
    assert Customer.history.filter(id=customer.pk).count() == 1


def test_an_expression_save_records_the_value_written():
    """The admin bumps the version with F("version") + 1; the audit row holds the number."""
    from django.db.models import F

    contract = ContractFactory()
    contract.version = F("version") + 1
    contract.save()

    assert Contract.history.filter(id=contract.pk).latest("history_date").version == 2


# --- the panel --------------------------------------------------------------------------------


def test_the_panel_shows_who_when_and_what_changed(client, english_staff):
    customer = CustomerFactory(city="Sangerhausen")
    services.customer_update(
        customer=customer,
        data={"city": "Halle (Saale)", "postal_code": "06108", "advisor": english_staff},
        version=customer.version,
        by=english_staff,
    )

    response = panel(client, customer, **HTMX)

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "customers/partials/history_panel.html"
    changed = response.context["entries"][0]
    assert changed.action == "~" and changed.user == english_staff
    by_field = {c.field: c for c in changed.changes}
    assert (by_field["city"].old, by_field["city"].new) == ("Sangerhausen", "Halle (Saale)")
    assert (by_field["advisor"].old, by_field["advisor"].new) == ("–", str(english_staff))
    html = response.content.decode()
    assert "Halle (Saale)" in html and "<del>Sangerhausen</del>" in html
    assert "<html" not in html


def test_the_panel_covers_contracts_bookings_and_consents(english_staff):
    customer = CustomerFactory()
    contract = ContractFactory(customer=customer, policy_number="PH-4711")
    services.contract_update(contract=contract, data={"status": "4"}, version=1, by=english_staff)
    CommissionBookingFactory(contract=contract, amount=Decimal("22.25"))
    MarketingConsentFactory(customer=customer)

    entries = customer_history(customer=customer)

    subjects = " | ".join(e.subject for e in entries)
    assert "PH-4711" in subjects
    assert "22,25" in subjects or "22.25" in subjects
    status_change = next(e for e in entries if e.changes and e.changes[0].field == "status")
    assert status_change.changes[0].new == Contract(status="4").get_status_display()


def test_without_javascript_the_panel_is_a_page(client, english_staff):
    customer = CustomerFactory()

    response = panel(client, customer)

    assert response.status_code == 200
    assert "<html" in response.content.decode()


def test_the_panel_is_on_the_customer_page():
    customer = CustomerFactory()

    urls = [p.url for p in panels.customer_panels(customer)]

    assert reverse("customers:history_panel", args=[customer.pk]) in urls


def test_the_panel_needs_a_login(client):
    customer = CustomerFactory()

    response = panel(client, customer)

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_office_staff_see_the_history_but_not_the_data_protection_actions(staff_client):
    customer = CustomerFactory()

    response = panel(staff_client, customer, **HTMX)

    assert response.status_code == 200
    assert response.context["can_manage_privacy"] is False
    assert 'id="privacy-actions"' not in response.content.decode()


def test_the_owner_sees_export_and_erasure(owner_client):
    customer = CustomerFactory()

    html = panel(owner_client, customer, **HTMX).content.decode()

    assert reverse("customers:privacy_export", args=[customer.pk]) in html
    assert reverse("customers:privacy_erase", args=[customer.pk]) in html


def test_the_panel_needs_a_fixed_number_of_queries_however_long_the_history(client):
    client.force_login(OwnerFactory(username="inhaber-en", language="en"))
    advisors = [StaffFactory(), StaffFactory()]
    insurer = InsurerFactory()

    def panel_queries(changes: int) -> int:
        customer = CustomerFactory()
        for i in range(changes):
            services.customer_update(
                customer=customer,
                data={"city": f"Ort {i}", "advisor": advisors[i % 2]},
                version=customer.version,
                by=None,
            )
            contract = ContractFactory(customer=customer, insurer=insurer)
            services.contract_update(contract=contract, data={"status": "4"}, version=1, by=None)
            CommissionBookingFactory(contract=contract)
        with CaptureQueriesContext(connection) as ctx:
            response = panel(client, customer, **HTMX)
        assert response.status_code == 200
        return len(ctx)

    assert panel_queries(2) == panel_queries(40)
