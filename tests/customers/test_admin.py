"""The Django admin never hard-deletes a customer (nor, with it, the contracts, bookings and
consents that retention duties keep): deleting goes through the erasure request."""

import datetime as dt

import pytest
from django.urls import reverse

from customers import privacy
from customers.models import Contract, Customer, MarketingConsent
from tests.factories import (
    CommissionBookingFactory,
    ContractFactory,
    CustomerFactory,
    MarketingConsentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(username="admin-en", is_staff=True, is_superuser=True, language="en")
    client.force_login(user)
    return client


@pytest.fixture
def customer(db):
    customer = CustomerFactory()
    ContractFactory(customer=customer)
    MarketingConsentFactory(customer=customer)
    return customer


def test_the_customer_delete_page_is_refused(admin_client, customer):
    url = reverse("admin:customers_customer_delete", args=[customer.pk])

    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert Contract.objects.filter(customer=customer).count() == 1


def test_the_bulk_delete_action_is_not_offered_and_does_nothing(admin_client, customer):
    changelist = reverse("admin:customers_customer_changelist")
    page = admin_client.get(changelist)
    assert page.status_code == 200
    assert 'value="delete_selected"' not in page.content.decode()

    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [customer.pk], "post": "yes"}
    )

    assert Customer.objects.filter(pk=customer.pk).exists()
    assert MarketingConsent.objects.filter(customer=customer).count() == 1


def test_the_customer_page_links_to_the_erasure_request(admin_client, customer):
    page = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert reverse("customers:privacy_erase", args=[customer.pk]) in html
    assert reverse("admin:customers_customer_delete", args=[customer.pk]) not in html


def test_contracts_with_bookings_or_of_restricted_customers_cannot_be_deleted_in_the_admin(admin_client):
    booked = CommissionBookingFactory().contract
    plain = ContractFactory()
    url = reverse("admin:customers_contract_delete", args=[booked.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Contract.objects.filter(pk=booked.pk).exists()

    erased = CustomerFactory()
    kept = ContractFactory(customer=erased)
    privacy.customer_erase(customer=erased, received_on=dt.date.today(), reason="Bitte löschen", by=None)
    kept.refresh_from_db()  # retained and restricted
    assert (
        admin_client.post(
            reverse("admin:customers_contract_delete", args=[kept.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        admin_client.post(reverse("admin:customers_contract_change", args=[kept.pk]), {}).status_code == 403
    )
    assert Contract.objects.filter(pk=kept.pk).exists()

    # A contract without bookings of a usable customer may still be corrected and deleted.
    response = admin_client.post(reverse("admin:customers_contract_delete", args=[plain.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Contract.objects.filter(pk=plain.pk).exists()


def test_the_contract_bulk_delete_action_is_not_offered(admin_client):
    contract = ContractFactory()
    changelist = reverse("admin:customers_contract_changelist")
    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [contract.pk], "post": "yes"}
    )
    assert Contract.objects.filter(pk=contract.pk).exists()
