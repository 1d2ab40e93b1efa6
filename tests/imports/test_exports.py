"""Exports in the import's layout, and the round trip export -> import."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from customers.models import CommissionBooking, Contract, Customer
from imports.exports import export_file
from imports.models import ImportJob
from tests.factories import CommissionBookingFactory, ContractFactory, CustomerFactory, InsurerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book():
    insurer = InsurerFactory(name="Muster Versicherung AG", vu_number="12345")
    erika = CustomerFactory(
        number="K-1", name="Mustermann", first_name="Erika", title="=HYPERLINK(\"x\")", phone="+49 3464 1",
        homeowner=True, cars=2, marital_status="2", occupation="employed", postal_code="06526",
    )  # fmt: skip
    CustomerFactory(number="K-2", name="Schmidt", first_name="Max", birth_date=None, status="prospect")
    contract = ContractFactory(
        customer=erika, insurer=insurer, policy_number="PH-1", annual_premium=Decimal("1234.56"),
        end_date=dt.date(2032, 1, 1), payment_frequency="8", status="1",
    )  # fmt: skip
    CommissionBookingFactory(contract=contract, amount=Decimal("22.25"), statement_reference="A-06")
    CommissionBookingFactory(
        contract=contract, amount=Decimal("-10.00"), kind="clawback", statement_reference="A-07"
    )
    return erika


def snapshot():
    return (
        list(
            Customer.objects.order_by("number").values_list(
                "number", "name", "title", "email", "phone", "birth_date", "homeowner", "cars", "updated_at"
            )
        ),
        list(
            Contract.objects.order_by("policy_number").values_list(
                "policy_number", "annual_premium", "end_date", "updated_at"
            )
        ),
        list(CommissionBooking.objects.order_by("pk").values_list("amount", "kind", "statement_reference")),
    )


def test_csv_export_is_german_and_protects_formula_like_text(book):
    content, name = export_file(kind="customers", file_format="csv")

    assert name.startswith("customers-") and name.endswith(".csv")
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    assert "'=HYPERLINK" in text and "'+49 3464 1" in text
    assert "17.05.1980" in text
    contracts = export_file(kind="contracts", file_format="csv")[0].decode("utf-8")
    assert "1234,56" in contracts and ";PH-1;" in contracts


def test_xlsx_export_has_typed_cells_and_no_formulas(book):
    with translation.override("en"):
        content, _name = export_file(kind="contracts", file_format="xlsx")

    sheet = load_workbook(io.BytesIO(content)).active
    header, row = [c.value for c in sheet[1]], list(sheet[2])
    premium = row[header.index("annual net premium")]
    assert premium.value == 1234.56 and premium.data_type == "n"
    customers = load_workbook(io.BytesIO(export_file(kind="customers", file_format="xlsx")[0])).active
    title = next(customers.iter_rows(min_row=2))[3]
    assert title.value == '=HYPERLINK("x")' and title.data_type == "s"


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
@pytest.mark.parametrize("language", ["de", "en"])
def test_an_export_reimports_cleanly(flow, book, file_format, language):
    before = snapshot()
    with translation.override(language):
        files = {
            kind: export_file(kind=kind, file_format=file_format)
            for kind in ("customers", "contracts", "bookings")
        }

    for kind, (content, name) in files.items():
        job = flow.check(content, kind, name)
        assert job.status == ImportJob.Status.READY, (kind, job.errors)
        assert job.counts["create"] == 0 and job.counts["update"] == 0, (kind, job.counts)
        assert flow.confirm(job).status == ImportJob.Status.DONE

    assert snapshot() == before


def test_an_export_imports_into_an_empty_crm(flow, book):
    files = {
        kind: export_file(kind=kind, file_format="csv") for kind in ("customers", "contracts", "bookings")
    }
    before = snapshot()
    CommissionBooking.objects.all().delete()
    Contract.objects.all().delete()
    Customer.objects.all().delete()

    for kind in ("customers", "contracts", "bookings"):
        flow.run(files[kind][0], kind, files[kind][1])

    after = snapshot()
    strip = lambda rows: [r[:-1] for r in rows]  # noqa: E731 - timestamps differ
    assert strip(after[0]) == strip(before[0])
    assert strip(after[1]) == strip(before[1])
    assert after[2] == before[2]


def test_a_filtered_list_exports_only_its_rows(owner_client, book):
    response = owner_client.get(reverse("imports:export", args=["customers", "csv"]), {"q": "Schmidt"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert "Schmidt" in text and "Mustermann" not in text


def test_an_unreadable_filter_is_refused(owner_client, book):
    response = owner_client.get(reverse("imports:export", args=["bookings", "csv"]), {"date_from": "gestern"})

    assert response.status_code == 400


def test_export_queries_stay_constant_as_rows_grow(owner_client, django_assert_max_num_queries):
    insurer = InsurerFactory()
    for _ in range(10):
        ContractFactory(insurer=insurer)
    with django_assert_max_num_queries(6) as small:
        owner_client.get(reverse("imports:export", args=["contracts", "xlsx"]))
    for _ in range(190):
        ContractFactory(insurer=insurer)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = owner_client.get(reverse("imports:export", args=["contracts", "xlsx"]))
    assert response.status_code == 200
