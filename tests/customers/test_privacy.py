"""DSGVO: the export of everything stored about a customer (Art. 15), the erasure request that
anonymises what no retention duty keeps and restricts the rest (Art. 17/18), and the purge once
the retention has passed."""

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers import privacy, selectors, services
from customers.models import (
    Activity,
    CommissionBooking,
    Contract,
    Customer,
    Household,
    MarketingConsent,
    PrivacyRequest,
)
from segmentation.models import ThirdPartyContract
from servicelevels.models import CareTask
from tests.factories import (
    ActivityFactory,
    CommissionBookingFactory,
    ContractFactory,
    CustomerFactory,
    HouseholdFactory,
    MarketingConsentFactory,
    OwnerFactory,
    StaffFactory,
)
from tests.segmentation.factories import ThirdPartyContractFactory
from tests.servicelevels.factories import CareTaskFactory

pytestmark = pytest.mark.django_db

ERASED_ON = dt.date(2026, 11, 20)


@pytest.fixture
def book(owner):
    """A customer with data in every table: a running contract with a recent and a 2017
    booking, a contract that ended in 2014, a consent, the contact log, a Fremdvertrag, a care
    task, a household of their own, and a customer they referred."""
    household = HouseholdFactory(name="Haushalt Mustermann")
    customer = CustomerFactory(
        name="Mustermann",
        first_name="Erika",
        email="erika@example.org",
        phone="0345 123456",
        birth_date=dt.date(1975, 3, 4),
        household=household,
        homeowner=True,
        cars=2,
    )
    services.customer_update(
        customer=customer,
        data={"city": "Halle (Saale)", "postal_code": "06108"},
        version=customer.version,
        by=owner,
    )
    running = ContractFactory(customer=customer, policy_number="PH-RUNNING")
    recent = CommissionBookingFactory(contract=running, booked_on=dt.date(2026, 6, 1))
    old = CommissionBookingFactory(contract=running, booked_on=dt.date(2017, 3, 1))
    ended = ContractFactory(
        customer=customer,
        policy_number="PH-ENDED",
        status="4",
        start_date=dt.date(2010, 1, 1),
        main_due_date=dt.date(2010, 1, 1),
        end_date=dt.date(2014, 12, 31),
    )
    consent = MarketingConsentFactory(customer=customer, granted_on=dt.date(2025, 3, 1))
    activity = ActivityFactory(customer=customer, subject="Anruf wegen Hausrat", notes="Erika ist schwanger")
    referral = CustomerFactory(name="Empfohlen", referred_by=customer)
    third_party = ThirdPartyContractFactory(customer=customer, note="Hausrat bei Konkurrenz")
    task = CareTaskFactory(customer=customer, outcome="Erika zurückrufen")
    return {
        "customer": customer,
        "household": household,
        "running": running,
        "ended": ended,
        "recent": recent,
        "old": old,
        "consent": consent,
        "activity": activity,
        "referral": referral,
        "third_party": third_party,
        "task": task,
    }


def erase(customer, by, today=ERASED_ON, reason="Schreiben vom 10.11.2026"):
    return privacy.customer_erase(customer=customer, received_on=today, reason=reason, by=by, today=today)


def unzip(response) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rows(files, name):
    return json.loads(files[f"json/{name}.json"])


# --- erasure ----------------------------------------------------------------------------------


def test_erasure_anonymises_the_customer_and_its_audit_rows(book, owner):
    customer = book["customer"]

    erase(customer, owner)

    customer.refresh_from_db()
    assert customer.name == privacy.ERASED_NAME
    for field_name in ("first_name", "email", "phone", "street", "postal_code", "city"):
        assert getattr(customer, field_name) == ""
    assert customer.birth_date is None
    assert customer.household_id is None
    assert (customer.homeowner, customer.cars, customer.status) == (False, 0, Customer.Status.FORMER)
    assert customer.number  # the retained records still belong together
    audit = Customer.history.filter(id=customer.pk)
    assert audit.count() >= 3
    assert set(audit.values_list("name", flat=True)) == {privacy.ERASED_NAME}
    assert not audit.exclude(email="").exists()
    assert not audit.exclude(city="").exists()
    assert not audit.filter(birth_date__isnull=False).exists()
    assert audit.filter(history_change_reason=privacy.ERASURE_REASON, history_user=owner).exists()


def test_erasure_keeps_and_restricts_what_must_be_retained(book, owner):
    customer = book["customer"]

    request = erase(customer, owner)

    customer.refresh_from_db()
    assert customer.restricted_at == ERASED_ON
    assert customer.erased_at is not None
    # The running contract counts from the erasure: 10 years after the end of 2026.
    assert customer.retention_until == dt.date(2036, 12, 31) == request.retention_until
    assert Contract.objects.filter(pk=book["running"].pk).exists()
    assert CommissionBooking.objects.filter(pk=book["recent"].pk).exists()
    consent = MarketingConsent.objects.get(pk=book["consent"].pk)
    assert consent.withdrawn_on == ERASED_ON
    assert consent.wording  # the proof of consent (§ 7a UWG) is kept


def test_erasure_deletes_at_once_what_is_past_retention(book, owner):
    erase(book["customer"], owner)

    # Booked in 2017: 8 years after the end of 2017 have passed. Ended 2014: 10 years too.
    assert not CommissionBooking.objects.filter(pk=book["old"].pk).exists()
    assert not CommissionBooking.history.filter(id=book["old"].pk).exists()
    assert not Contract.objects.filter(pk=book["ended"].pk).exists()
    assert not Contract.history.filter(id=book["ended"].pk).exists()


def test_erasure_erases_the_contact_log_text_and_other_apps_rows(book, owner):
    erase(book["customer"], owner)

    activity = Activity.objects.get(pk=book["activity"].pk)
    assert (activity.subject, activity.notes) == (privacy.ERASED_NAME, "")
    assert activity.kind == book["activity"].kind
    assert not ThirdPartyContract.objects.filter(pk=book["third_party"].pk).exists()
    assert not CareTask.objects.filter(pk=book["task"].pk).exists()


def test_erasure_removes_the_customer_from_other_customers_and_the_household(book, owner):
    erase(book["customer"], owner)

    referral = Customer.objects.get(pk=book["referral"].pk)
    assert referral.referred_by_id is None
    assert referral.history.first().history_change_reason == privacy.ERASURE_REASON
    assert not Household.objects.filter(pk=book["household"].pk).exists()
    assert not Household.history.filter(id=book["household"].pk).exists()


def test_a_household_with_other_members_stays(owner):
    household = HouseholdFactory()
    customer = CustomerFactory(household=household)
    partner = CustomerFactory(household=household)

    erase(customer, owner)

    assert Household.objects.filter(pk=household.pk).exists()
    partner.refresh_from_db()
    assert partner.household_id == household.pk


def test_erasure_documents_the_request_with_what_was_done(book, owner):
    customer = book["customer"]

    request = erase(customer, owner, reason="Brief vom 10.11.2026")

    assert request.kind == PrivacyRequest.Kind.ERASURE
    assert (request.customer_id, request.customer_number) == (customer.pk, customer.number)
    assert request.reason == "Brief vom 10.11.2026"
    assert request.completed_by == owner
    summary = request.summary
    assert summary["retained"]["customers.contract"] == 1
    assert summary["deleted"]["customers.contract"] == 1
    assert summary["retained"]["customers.commissionbooking"] == 1
    assert summary["deleted"]["customers.commissionbooking"] == 1
    assert summary["deleted"]["segmentation.thirdpartycontract"] == 1
    assert summary["deleted"]["servicelevels.caretask"] == 1
    assert summary["anonymised"]["customers.activity"] == 1
    assert summary["cleared"]["customers.customer"] == 1


def test_the_plan_shown_before_matches_what_the_erasure_does(book, owner):
    plan = privacy.erasure_plan(customer=book["customer"], on=ERASED_ON)

    request = erase(book["customer"], owner)

    assert plan.as_summary() == request.summary
    assert plan.active_contracts == 1


def test_a_customer_without_retained_data_is_deleted_completely(owner):
    customer = CustomerFactory(status=Customer.Status.PROSPECT)
    ActivityFactory(customer=customer, notes="Interessent")
    services.customer_update(customer=customer, data={"city": "Halle"}, version=customer.version, by=owner)

    request = erase(customer, owner)

    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert not Customer.history.filter(id=customer.pk).exists()
    assert not Activity.objects.filter(customer_id=customer.pk).exists()
    request.refresh_from_db()
    assert request.customer_id is None
    assert request.customer_number == customer.number
    assert request.purged_at is not None
    assert request.retention_until is None


def test_erasure_needs_a_reason_and_no_future_date(book, owner):
    customer = book["customer"]

    with pytest.raises(ValidationError) as exc:
        privacy.customer_erase(
            customer=customer,
            received_on=ERASED_ON + dt.timedelta(days=1),
            reason=" ",
            by=owner,
            today=ERASED_ON,
        )

    assert set(exc.value.error_dict) == {"reason", "received_on"}
    customer.refresh_from_db()
    assert customer.restricted_at is None and customer.name == "Mustermann"


def test_erasing_twice_is_refused(book, owner):
    erase(book["customer"], owner)

    with pytest.raises(ValidationError):
        erase(book["customer"], owner)
    assert PrivacyRequest.objects.filter(kind=PrivacyRequest.Kind.ERASURE).count() == 1


# --- restriction: locked from use -------------------------------------------------------------


def test_restricted_customers_are_not_listed_nor_found(book, owner):
    customer = book["customer"]
    erase(customer, owner)

    assert not Customer.objects.usable().filter(pk=customer.pk).exists()
    assert Customer.objects.restricted().filter(pk=customer.pk).exists()
    assert customer.pk not in selectors.customer_list(filters={}).values_list("pk", flat=True)
    assert book["running"].pk not in selectors.contract_list(filters={}, today=ERASED_ON).values_list(
        "pk", flat=True
    )
    assert selectors.customer_by_number(customer.number) is None


@pytest.mark.parametrize(
    "write",
    [
        lambda c, b: services.customer_update(customer=c, data={"name": "X"}, version=c.version, by=None),
        lambda c, b: services.contract_create(customer=c, data={}, by=None),
        lambda c, b: services.contract_update(contract=b["running"], data={}, version=2, by=None),
        lambda c, b: services.booking_create(customer=c, data={}, by=None),
        lambda c, b: services.activity_create(customer=c, data={"subject": "x"}, by=None),
        lambda c, b: services.consent_grant(
            customer=c, channel="phone", granted_on=ERASED_ON, source="x", by=None
        ),
    ],
    ids=["customer_update", "contract_create", "contract_update", "booking_create", "activity", "consent"],
)
def test_every_write_for_a_restricted_customer_is_refused(book, owner, write):
    erase(book["customer"], owner)
    customer = Customer.objects.get(pk=book["customer"].pk)
    book["running"].refresh_from_db()

    with pytest.raises(ValidationError) as exc:
        write(customer, book)

    assert exc.value.messages == [str(services.RESTRICTED)]


def test_the_edit_page_refuses_a_restricted_customer_with_a_message(book, owner, client):
    erase(book["customer"], owner)
    customer = Customer.objects.get(pk=book["customer"].pk)
    client.force_login(StaffFactory(username="innendienst-en", language="en"))

    response = client.post(
        reverse("customers:update", args=[customer.pk]),
        {
            "kind": "person",
            "salutation": "1",
            "name": "Neu",
            "country": "DE",
            "status": "active",
            "cars": 0,
            "children": 0,
            "version": customer.version,
        },
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [str(services.RESTRICTED)]
    assert 'id="form-errors"' in response.content.decode()
    customer.refresh_from_db()
    assert customer.name == privacy.ERASED_NAME


def test_the_customer_list_page_leaves_restricted_customers_out(book, owner, owner_client):
    erase(book["customer"], owner)

    response = owner_client.get(reverse("customers:list"))

    assert response.status_code == 200
    assert book["customer"].number not in response.content.decode()
    assert book["referral"].number in response.content.decode()


# --- purge ------------------------------------------------------------------------------------


def test_purge_deletes_nothing_before_the_retention_ends(book, owner):
    erase(book["customer"], owner)

    result = privacy.retention_purge(as_of=dt.date(2031, 12, 31))

    assert result.total == 0
    assert Contract.objects.filter(pk=book["running"].pk).exists()


def test_purge_deletes_each_record_when_its_own_retention_ends(book, owner):
    erase(book["customer"], owner)

    # 2035: the 2026 booking (8 years) and the consent proof (5 years) have passed, the contract not.
    result = privacy.retention_purge(as_of=dt.date(2035, 1, 1))

    assert (result.bookings, result.consents, result.contracts, result.customers) == (1, 1, 0, 0)
    assert not CommissionBooking.history.filter(id=book["recent"].pk).exists()
    assert not MarketingConsent.history.filter(id=book["consent"].pk).exists()
    assert Contract.objects.filter(pk=book["running"].pk).exists()


def test_purge_deletes_the_customer_with_every_trace_once_nothing_is_retained(book, owner):
    customer = book["customer"]
    request = erase(customer, owner)

    result = privacy.retention_purge(as_of=dt.date(2037, 1, 1))

    assert (result.contracts, result.customers) == (1, 1)
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert not Activity.objects.filter(customer_id=customer.pk).exists()
    for model, lookup in (
        (Customer, {"id": customer.pk}),
        (Contract, {"customer_id": customer.pk}),
        (MarketingConsent, {"customer_id": customer.pk}),
        (CommissionBooking, {"contract_id__in": [book["running"].pk, book["ended"].pk]}),
    ):
        assert not model.history.filter(**lookup).exists(), model
    request.refresh_from_db()
    assert request.customer_id is None and request.purged_at is not None
    assert Customer.objects.filter(pk=book["referral"].pk).exists()


def test_purge_runs_twice_without_deleting_more(book, owner):
    erase(book["customer"], owner)
    privacy.retention_purge(as_of=dt.date(2035, 1, 1))

    assert privacy.retention_purge(as_of=dt.date(2035, 1, 1)).total == 0


def test_purge_leaves_customers_that_were_never_erased_alone(owner):
    customer = CustomerFactory()
    old = CommissionBookingFactory(contract__customer=customer, booked_on=dt.date(2001, 1, 1))

    assert privacy.retention_purge(as_of=dt.date(2040, 1, 1)).total == 0
    assert CommissionBooking.objects.filter(pk=old.pk).exists()


def test_purge_is_set_based(owner):
    """The statements do not grow with the number of rows deleted."""

    def erased_customers(n_customers: int, n_bookings: int) -> None:
        for _ in range(n_customers):
            customer = CustomerFactory()
            contract = ContractFactory(customer=customer, end_date=dt.date(2023, 1, 1))
            for day in range(n_bookings):
                CommissionBookingFactory(
                    contract=contract, booked_on=dt.date(2022, 1, 1) + dt.timedelta(days=day)
                )
            ActivityFactory(customer=customer)
            erase(customer, owner)

    def purge_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            result = privacy.retention_purge(as_of=dt.date(2040, 1, 1))
        assert result.customers > 0
        return len(ctx)

    erased_customers(1, 2)
    few = purge_queries()
    erased_customers(8, 20)
    many = purge_queries()

    assert many == few


def test_purge_command(book, owner):
    erase(book["customer"], owner)
    out = io.StringIO()

    call_command("purge_retention", "--as-of", "2037-01-01", stdout=out)

    assert "1 customers deleted" in out.getvalue()
    assert not Customer.objects.filter(pk=book["customer"].pk).exists()


def test_purge_command_refuses_a_bad_date():
    with pytest.raises(CommandError):
        call_command("purge_retention", "--as-of", "31.12.2036")


# --- Art. 15: the export ----------------------------------------------------------------------


def export(client, customer, received_on=None):
    day = received_on or timezone.localdate()
    return client.post(
        reverse("customers:privacy_export", args=[customer.pk]), {"received_on": day.strftime("%d.%m.%Y")}
    )


def test_owner_downloads_everything_stored_about_a_customer(book, owner_client):
    customer = book["customer"]

    response = export(owner_client, customer)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert customer.number in response["Content-Disposition"]
    files = unzip(response)
    assert rows(files, "customer")[0]["email"] == "erika@example.org"
    assert rows(files, "household")[0]["name"] == "Haushalt Mustermann"
    assert {r["policy_number"] for r in rows(files, "customers.contract")} == {"PH-RUNNING", "PH-ENDED"}
    assert len(rows(files, "customers.commissionbooking")) == 2
    assert rows(files, "customers.activity")[0]["notes"] == "Erika ist schwanger"
    assert rows(files, "customers.marketingconsent")[0]["wording"] == book["consent"].wording
    assert rows(files, "segmentation.thirdpartycontract")[0]["note"] == "Hausrat bei Konkurrenz"
    assert rows(files, "servicelevels.caretask")[0]["outcome"] == "Erika zurückrufen"
    audit = rows(files, "audit.customers.customer")
    assert {r["city"] for r in audit} >= {"Sangerhausen", "Halle (Saale)"}
    assert len(rows(files, "audit.customers.commissionbooking")) == 2


def test_the_export_covers_every_table_that_points_to_a_customer(book, owner_client):
    files = unzip(export(owner_client, book["customer"]))

    for rel in privacy.customer_relations():
        assert f"json/{rel.related_model._meta.label_lower}.json" in files
        assert f"csv/{rel.related_model._meta.label_lower}.csv" in files
    manifest = json.loads(files["manifest.json"])
    assert manifest["customer_number"] == book["customer"].number
    assert "README.txt" in files


def test_the_export_leaves_out_other_customers(book, owner_client):
    files = unzip(export(owner_client, book["customer"]))

    everything = b"".join(files.values()).decode("utf-8", "replace")
    assert book["referral"].number not in everything


def test_the_export_csv_is_for_german_excel(book, owner_client):
    files = unzip(export(owner_client, book["customer"]))

    text = files["csv/customers.commissionbooking.csv"].decode("utf-8")
    assert text.startswith("\ufeff")
    assert "22,25" in text and "01.06.2026" in text and ";" in text


def test_the_export_is_documented_as_an_access_request(book, owner, owner_client):
    received = timezone.localdate() - dt.timedelta(days=3)

    export(owner_client, book["customer"], received_on=received)

    request = PrivacyRequest.objects.get(kind=PrivacyRequest.Kind.ACCESS)
    assert (request.customer_id, request.received_on, request.completed_by) == (
        book["customer"].pk,
        received,
        owner,
    )


def test_the_export_refuses_a_future_request_date(book, owner_client):
    response = export(owner_client, book["customer"], received_on=timezone.localdate() + dt.timedelta(days=2))

    assert response.status_code == 400
    assert "received_on" in response.context["access_form"].errors
    assert not PrivacyRequest.objects.exists()


def test_the_export_needs_a_fixed_number_of_queries(owner_client):
    def export_queries(contracts: int, bookings: int) -> int:
        customer = CustomerFactory()
        for _ in range(contracts):
            contract = ContractFactory(customer=customer)
            CommissionBookingFactory.create_batch(bookings, contract=contract)
            services.contract_update(
                contract=contract, data={"annual_premium": Decimal("99")}, version=1, by=None
            )
        ActivityFactory.create_batch(contracts, customer=customer)
        with CaptureQueriesContext(connection) as ctx:
            assert export(owner_client, customer).status_code == 200
        return len(ctx)

    assert export_queries(1, 1) == export_queries(15, 10)


def test_an_erased_customer_can_still_be_exported_without_personal_data(book, owner, owner_client):
    erase(book["customer"], owner)

    files = unzip(export(owner_client, book["customer"]))

    everything = b"".join(files.values()).decode("utf-8", "replace")
    assert "erika@example.org" not in everything
    assert "Erika ist schwanger" not in everything
    assert rows(files, "customer")[0]["name"] == privacy.ERASED_NAME


# --- pages and access -------------------------------------------------------------------------


OWNER_ONLY = ["customers:privacy_export", "customers:privacy_erase"]


@pytest.mark.parametrize("name", OWNER_ONLY)
def test_office_staff_may_not_use_the_data_protection_pages(staff_client, name):
    customer = CustomerFactory()

    assert staff_client.get(reverse(name, args=[customer.pk])).status_code == 403
    assert staff_client.post(reverse(name, args=[customer.pk]), {}).status_code == 403
    assert staff_client.get(reverse("customers:privacy_register")).status_code == 403


def test_the_erasure_page_shows_the_plan_and_asks_for_the_number(book, owner_client):
    customer = book["customer"]
    url = reverse("customers:privacy_erase", args=[customer.pk])

    page = owner_client.get(url)
    response = owner_client.post(
        url,
        {
            "received_on": timezone.localdate().strftime("%d.%m.%Y"),
            "reason": "Brief",
            "confirm_number": "K999",
        },
    )

    assert page.status_code == 200
    assert page.context["plan"].retained["customers.contract"] == 1
    assert response.status_code == 200
    assert "confirm_number" in response.context["form"].errors
    customer.refresh_from_db()
    assert customer.restricted_at is None


def test_the_erasure_page_carries_out_the_request(book, owner_client):
    customer = book["customer"]

    response = owner_client.post(
        reverse("customers:privacy_erase", args=[customer.pk]),
        {
            "received_on": timezone.localdate().strftime("%d.%m.%Y"),
            "reason": "Brief vom Kunden",
            "confirm_number": customer.number.lower(),
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    customer.refresh_from_db()
    assert customer.restricted_at == timezone.localdate()
    again = owner_client.get(reverse("customers:privacy_erase", args=[customer.pk]))
    assert again.context["plan"] is None


def test_the_register_lists_requests_in_a_fixed_number_of_queries(owner, owner_client):
    def register_queries(n: int) -> int:
        for _ in range(n):
            customer = CustomerFactory()
            ContractFactory(customer=customer)
            erase(customer, owner, today=timezone.localdate())
        with CaptureQueriesContext(connection) as ctx:
            response = owner_client.get(reverse("customers:privacy_register"))
        assert response.status_code == 200
        return len(ctx)

    assert register_queries(3) == register_queries(60)


def test_the_register_keeps_requests_of_deleted_customers(owner, owner_client):
    customer = CustomerFactory(number="K7654321")
    erase(customer, owner, today=timezone.localdate())

    response = owner_client.get(reverse("customers:privacy_register"))

    assert "K7654321" in response.content.decode()
    assert not Customer.objects.filter(number="K7654321").exists()


def test_other_owners_see_the_register_too(client):
    client.force_login(OwnerFactory(username="zweiter-inhaber"))

    assert client.get(reverse("customers:privacy_register")).status_code == 200
