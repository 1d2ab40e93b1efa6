"""Per-advisor visibility (office setting): staff see the whole book, or only the customers
they advise — in every list, page and form that reaches a customer; the owner sees everything."""

import pytest
from django.urls import reverse

from customers.models import Customer, OfficeSettings
from tests.factories import (
    ContractFactory,
    CustomerFactory,
    HouseholdFactory,
    MarketingConsentFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(staff):
    colleague = StaffFactory()
    household = HouseholdFactory()
    mine = CustomerFactory(name="Eigener", advisor=staff, household=household)
    theirs = CustomerFactory(name="Fremder", advisor=colleague, household=household)
    nobodys = CustomerFactory(name="Ohnebetreuer", advisor=None)
    return {
        "mine": mine,
        "theirs": theirs,
        "nobodys": nobodys,
        "my_contract": ContractFactory(customer=mine),
        "their_contract": ContractFactory(customer=theirs),
        "their_consent": MarketingConsentFactory(customer=theirs),
    }


@pytest.fixture
def own_only():
    OfficeSettings.objects.update_or_create(pk=1, defaults={"staff_sees_own_customers_only": True})


def listed_names(response) -> set[str]:
    return {row.record["name"] for row in response.context["table"].paginated_rows}


def test_by_default_staff_see_the_whole_book(staff_client, book):
    response = staff_client.get(reverse("customers:list"))
    assert listed_names(response) == {"Eigener", "Fremder", "Ohnebetreuer"}


def test_with_the_setting_staff_list_only_their_own_customers(staff_client, book, own_only):
    response = staff_client.get(reverse("customers:list"))
    assert listed_names(response) == {"Eigener"}


def test_with_the_setting_the_owner_still_sees_everyone(owner_client, book, own_only):
    response = owner_client.get(reverse("customers:list"))
    assert listed_names(response) == {"Eigener", "Fremder", "Ohnebetreuer"}


def test_with_the_setting_the_export_holds_only_own_customers(staff_client, book, own_only):
    response = staff_client.get(reverse("customers:export"))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Eigener" in body
    assert "Fremder" not in body and "Ohnebetreuer" not in body


def test_with_the_setting_contract_list_and_export_hold_only_own_contracts(staff_client, book, own_only):
    response = staff_client.get(reverse("customers:contract_list"))
    numbers = {row.record.policy_number for row in response.context["table"].paginated_rows}
    assert numbers == {book["my_contract"].policy_number}
    export = staff_client.get(reverse("customers:contract_export"))
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    assert book["my_contract"].policy_number in body
    assert book["their_contract"].policy_number not in body


@pytest.mark.parametrize(
    "url_name, method",
    [
        ("customers:detail", "get"),
        ("customers:update", "get"),
        ("customers:update", "post"),
        ("customers:activity_create", "post"),
        ("customers:contract_create", "get"),
        ("customers:booking_create", "get"),
        ("customers:consent_grant", "get"),
        ("customers:history_panel", "get"),
    ],
)
def test_with_the_setting_another_advisors_customer_is_not_found(
    staff_client, book, own_only, url_name, method
):
    theirs = book["theirs"]
    response = getattr(staff_client, method)(reverse(url_name, args=[theirs.pk]), {})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Fremder"  # nothing written


def test_with_the_setting_another_advisors_contract_and_consent_are_not_found(staff_client, book, own_only):
    assert (
        staff_client.get(reverse("customers:contract_update", args=[book["their_contract"].pk])).status_code
        == 404
    )
    assert (
        staff_client.get(reverse("customers:contract_delete", args=[book["their_contract"].pk])).status_code
        == 404
    )
    assert (
        staff_client.get(reverse("customers:consent_withdraw", args=[book["their_consent"].pk])).status_code
        == 404
    )


def test_with_the_setting_own_customers_open_as_before(staff_client, book, own_only):
    assert staff_client.get(reverse("customers:detail", args=[book["mine"].pk])).status_code == 200
    assert (
        staff_client.get(reverse("customers:contract_update", args=[book["my_contract"].pk])).status_code
        == 200
    )


def test_with_the_setting_household_members_of_other_advisors_are_not_shown(staff_client, book, own_only):
    response = staff_client.get(reverse("customers:detail", args=[book["mine"].pk]))
    assert response.context["page"].household_members == []
    without = OfficeSettings.objects.filter(pk=1).update(staff_sees_own_customers_only=False)
    assert without == 1
    response = staff_client.get(reverse("customers:detail", args=[book["mine"].pk]))
    assert [m.name for m in response.context["page"].household_members] == ["Fremder"]


def test_staff_cannot_open_the_office_settings(staff_client):
    assert staff_client.get(reverse("customers:office_settings")).status_code == 403
    assert (
        staff_client.post(
            reverse("customers:office_settings"), {"staff_sees_own_customers_only": "on"}
        ).status_code
        == 403
    )
    assert not OfficeSettings.objects.filter(staff_sees_own_customers_only=True).exists()


def test_the_owner_switches_the_setting_and_the_change_is_audited(owner_client, owner, book):
    response = owner_client.post(
        reverse("customers:office_settings"), {"staff_sees_own_customers_only": "on"}, follow=True
    )
    assert response.status_code == 200
    assert OfficeSettings.load().staff_sees_own_customers_only is True
    entry = OfficeSettings.load().history.latest("history_date")
    assert entry.history_user == owner
    assert entry.staff_sees_own_customers_only is True
    page = owner_client.get(reverse("customers:office_settings"))
    assert page.context["form"].initial["staff_sees_own_customers_only"] is True
    assert len(page.context["history"]) == 1
    # switching back off
    owner_client.post(reverse("customers:office_settings"), {})
    assert OfficeSettings.load().staff_sees_own_customers_only is False


def test_with_the_setting_the_list_keeps_its_query_count(
    staff_client, staff, own_only, django_assert_max_num_queries
):
    CustomerFactory.create_batch(10, advisor=staff)
    with django_assert_max_num_queries(12) as small:
        staff_client.get(reverse("customers:list"))
    CustomerFactory.create_batch(60, advisor=staff)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = staff_client.get(reverse("customers:list"))
    assert len(response.context["table"].paginated_rows) == 50
    assert Customer.objects.count() == 70
