"""CSV and XLSX imports of customers, contracts and commission bookings (service level)."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from customers.models import CommissionBooking, Contract, Customer, Insurer
from imports import services
from imports.layouts import suggest_mapping
from imports.models import ImportJob
from imports.parsing import FileProblem
from tests.factories import ContractFactory, CustomerFactory, InsurerFactory, OwnerFactory

pytestmark = pytest.mark.django_db

CUSTOMERS_CSV = (
    "Kundennummer;Anrede;Vorname;Name;Geburtsdatum;E-Mail;Straße;PLZ;Ort;Kinder;Wohneigentum\r\n"
    "K-1001;Frau;Erika;Mustermann;17.05.1980;erika@example.org;Hauptstraße 1;06526;Sangerhausen;2;ja\r\n"
    "K-1002;Herr;Jürgen;Müller;01.02.1975;;Am Markt 3;99084;Erfurt;0;nein\r\n"
)


def csv_bytes(text: str, encoding: str = "utf-8-sig") -> bytes:
    return text.encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


# Customers ----------------------------------------------------------------------------------


def test_customers_csv_in_utf8_with_bom_is_checked_then_imported(flow):
    job = flow.upload(csv_bytes(CUSTOMERS_CSV), ImportJob.Kind.CUSTOMERS)
    assert job.status == ImportJob.Status.MAPPING
    assert job.delimiter == ";"
    assert job.mapping == {
        "0": "customer_number", "1": "salutation", "2": "first_name", "3": "name", "4": "birth_date",
        "5": "email", "6": "street", "7": "postal_code", "8": "city", "9": "children", "10": "homeowner",
    }  # fmt: skip

    job = flow.check(csv_bytes(CUSTOMERS_CSV), ImportJob.Kind.CUSTOMERS)
    assert job.status == ImportJob.Status.READY
    assert job.counts["create"] == 2
    assert Customer.objects.count() == 0, "the dry run writes nothing"

    job = flow.confirm(job)
    assert job.status == ImportJob.Status.DONE
    erika = Customer.objects.get(number="K-1001")
    assert (erika.salutation, erika.first_name, erika.name) == ("2", "Erika", "Mustermann")
    assert erika.birth_date == dt.date(1980, 5, 17)
    assert (erika.postal_code, erika.children, erika.homeowner) == ("06526", 2, True)
    assert Customer.objects.get(number="K-1002").salutation == "1"
    assert set(job.checks["ids"]) == set(Customer.objects.values_list("pk", flat=True))


def test_windows_1252_csv_with_commas_is_read(flow):
    text = "customer number,first name,last name,city\r\nK-1,Jürgen,Größe,Köln\r\n"

    job = flow.run(text.encode("cp1252"), ImportJob.Kind.CUSTOMERS)

    assert job.encoding == "cp1252"
    assert job.delimiter == ","
    customer = Customer.objects.get()
    assert (customer.first_name, customer.name, customer.city) == ("Jürgen", "Größe", "Köln")


def test_reimport_creates_no_duplicates_and_updates_only_what_changed(flow):
    flow.run(csv_bytes(CUSTOMERS_CSV), ImportJob.Kind.CUSTOMERS)
    changed = CUSTOMERS_CSV.replace("Erfurt", "Weimar")

    job = flow.check(csv_bytes(changed), ImportJob.Kind.CUSTOMERS)

    assert (job.counts["create"], job.counts["update"], job.counts["unchanged"]) == (0, 1, 1)
    flow.confirm(job)
    assert Customer.objects.count() == 2
    moved = Customer.objects.get(number="K-1002")
    assert (moved.city, moved.version) == ("Weimar", 2)


def test_an_empty_cell_does_not_clear_a_value_in_the_crm(flow):
    CustomerFactory(number="K-1002", name="Müller", email="juergen@example.org")

    flow.run(csv_bytes(CUSTOMERS_CSV), ImportJob.Kind.CUSTOMERS)

    assert Customer.objects.get(number="K-1002").email == "juergen@example.org"


def test_every_error_is_reported_with_row_column_and_reason_and_nothing_is_written(flow):
    text = (
        "Kundennummer;Name;Geburtsdatum;E-Mail;PLZ;Kinder\r\n"
        "K-1;Mustermann;31.02.1980;erika@example.org;06526;1\r\n"
        "K-2;;01.01.1990;kein-mail;06526;0\r\n"
        "K-3;Schmidt;01.01.1990;;1234;zwei\r\n"
        "K-1;Doppelt;01.01.1990;;06526;0\r\n"
        "K-5;Gut;01.01.1990;;06526;0\r\n"
    )

    job = flow.check(csv_bytes(text), ImportJob.Kind.CUSTOMERS)

    assert job.status == ImportJob.Status.INVALID
    found = {(e["row"], e["column"]) for e in job.errors}
    assert found == {
        (2, "Geburtsdatum"),
        (3, "Name"),
        (3, "E-Mail"),
        (4, "PLZ"),
        (4, "Kinder"),
        (5, "Kundennummer"),
    }
    date_error = next(e for e in job.errors if e["row"] == 2)
    assert date_error["value"] == "31.02.1980"
    assert job.counts["invalid"] == 4
    assert job.counts["create"] == 1
    with pytest.raises(ValidationError):
        services.import_job_confirm(job=job)
    assert Customer.objects.count() == 0


def test_a_missing_required_column_is_refused_at_the_mapping(flow):
    job = flow.upload(csv_bytes("Kundennummer;Vorname;Ort\r\nK-1;Erika;Halle\r\n"), ImportJob.Kind.CUSTOMERS)

    with pytest.raises(ValidationError) as excinfo:
        services.import_job_map(job=job, mapping=job.mapping)

    assert "last name / company" in " ".join(excinfo.value.messages)
    assert Customer.objects.count() == 0


def test_mapping_a_column_twice_is_refused(flow):
    job = flow.upload(csv_bytes(CUSTOMERS_CSV), ImportJob.Kind.CUSTOMERS)

    with pytest.raises(ValidationError):
        services.import_job_map(job=job, mapping={**job.mapping, "8": "name"})


def test_headers_are_recognised_in_german_and_english():
    german = [
        "Kunden-Nr.",
        "Vorname",
        "Nachname",
        "Geburtsdatum",
        "Straße",
        "PLZ",
        "Wohnort",
        "Familienstand",
    ]
    english = [
        "Customer number",
        "First name",
        "Last name",
        "Date of birth",
        "Street",
        "ZIP",
        "City",
        "Marital status",
    ]
    expected = [
        "customer_number",
        "first_name",
        "name",
        "birth_date",
        "street",
        "postal_code",
        "city",
        "marital_status",
    ]

    for headers in (german, english):
        assert list(suggest_mapping("customers", headers).values()) == expected


# Contracts and bookings -------------------------------------------------------------------------


CONTRACTS_CSV = (
    "Kundennummer;Versicherer;Sparte;Vertragsnummer;Status;Beginn;Ablauf;Hauptfälligkeit;Zahlungsweise;Jahresbeitrag\r\n"
    "K-1;Muster Versicherung AG;041;PH-1;lebend;01.01.2022;;01.01.2023;jährlich;1.234,56\r\n"
    "K-1;Neue Versicherung AG;130;HR-1;1;01.03.2022;01.03.2032;01.03.2023;8;89,90\r\n"
)


def test_contracts_are_imported_with_german_numbers_and_new_insurers(flow):
    CustomerFactory(number="K-1")
    InsurerFactory(name="Muster Versicherung AG")

    job = flow.check(csv_bytes(CONTRACTS_CSV), ImportJob.Kind.CONTRACTS)
    assert job.status == ImportJob.Status.READY, job.errors
    assert (job.counts["create"], job.counts["insurers_create"]) == (2, 1)
    assert Insurer.objects.count() == 1

    flow.confirm(job)
    liability = Contract.objects.get(policy_number="PH-1")
    assert (liability.annual_premium, liability.line_of_business.code, liability.status) == (
        Decimal("1234.56"),
        "041",
        "1",
    )
    assert liability.end_date is None
    household = Contract.objects.get(policy_number="HR-1")
    assert (household.insurer.name, household.payment_frequency) == ("Neue Versicherung AG", "8")


def test_contracts_are_matched_by_policy_number_and_insurer(flow):
    customer = CustomerFactory(number="K-1")
    same_number_elsewhere = ContractFactory(policy_number="PH-1", insurer=InsurerFactory(name="Andere AG"))
    ContractFactory(
        customer=customer,
        policy_number="PH-1",
        insurer=InsurerFactory(name="Muster Versicherung AG"),
        annual_premium=Decimal("10"),
    )

    job = flow.run(csv_bytes(CONTRACTS_CSV), ImportJob.Kind.CONTRACTS)

    assert (job.counts["create"], job.counts["update"]) == (1, 1)
    assert Contract.objects.filter(policy_number="PH-1").count() == 2
    same_number_elsewhere.refresh_from_db()
    assert same_number_elsewhere.annual_premium == Decimal("89.00")


def test_contract_rows_with_unknown_customer_or_line_or_letters_in_the_premium_are_errors(flow):
    CustomerFactory(number="K-1")
    text = (
        "Kundennummer;Versicherer;Sparte;Vertragsnummer;Beginn;Hauptfälligkeit;Jahresbeitrag\r\n"
        "K-9;Muster AG;041;PH-1;01.01.2022;01.01.2023;100\r\n"
        "K-1;Muster AG;777;PH-2;01.01.2022;01.01.2023;100\r\n"
        "K-1;Muster AG;041;PH-3;01.01.2022;01.01.2023;12a,50\r\n"
        "K-1;Muster AG;041;PH-4;01.01.2022;01.01.2023;-5\r\n"
    )

    job = flow.check(csv_bytes(text), ImportJob.Kind.CONTRACTS)

    assert {(e["row"], e["column"]) for e in job.errors} == {
        (2, "Kundennummer"),
        (3, "Sparte"),
        (4, "Jahresbeitrag"),
        (5, "Jahresbeitrag"),
    }
    assert next(e for e in job.errors if e["row"] == 4)["value"] == "12a,50"
    assert Contract.objects.count() == 0 and Insurer.objects.count() == 0


def test_bookings_are_matched_by_contract_date_amount_and_statement(flow):
    contract = ContractFactory(policy_number="PH-1", insurer=InsurerFactory(name="Muster AG"))
    text = (
        "Vertragsnummer;Versicherer;Buchungsdatum;Betrag;Abrechnung\r\n"
        "PH-1;Muster AG;01.06.2026;22,25;A-2026-06\r\n"
        "PH-1;Muster AG;01.07.2026;-22,25;A-2026-07\r\n"
    )

    flow.run(csv_bytes(text), ImportJob.Kind.BOOKINGS)
    job = flow.check(csv_bytes(text), ImportJob.Kind.BOOKINGS)

    assert (job.counts["create"], job.counts["unchanged"]) == (0, 2)
    bookings = CommissionBooking.objects.filter(contract=contract).order_by("booked_on")
    assert [(b.amount, b.kind) for b in bookings] == [
        (Decimal("22.25"), "recurring"),
        (Decimal("-22.25"), "clawback"),
    ]
    assert bookings[0].created_by is not None


def test_a_booking_for_an_unknown_contract_is_an_error(flow):
    InsurerFactory(name="Muster AG")
    text = "Vertragsnummer;Versicherer;Buchungsdatum;Betrag\r\nPH-404;Muster AG;01.06.2026;22,25\r\n"

    job = flow.check(csv_bytes(text), ImportJob.Kind.BOOKINGS)

    assert job.status == ImportJob.Status.INVALID
    assert job.errors[0]["row"] == 2


# XLSX -----------------------------------------------------------------------------------------


def test_xlsx_with_typed_cells_is_imported(flow):
    content = xlsx_bytes(
        [
            ["Kundennummer", "Name", "Vorname", "Geburtsdatum", "PLZ", "Kinder"],
            [1001, "Mustermann", "Erika", dt.datetime(1980, 5, 17), "06526", 2],
        ]
    )

    flow.run(content, ImportJob.Kind.CUSTOMERS, "kunden.xlsx")

    customer = Customer.objects.get()
    assert (customer.number, customer.birth_date, customer.children) == ("1001", dt.date(1980, 5, 17), 2)


def test_xlsx_with_formulas_is_rejected_with_the_cell(flow):
    content = xlsx_bytes(
        [
            ["Kundennummer", "Name", "Kinder"],
            ["K-1", "Mustermann", "=1+1"],
            ["K-2", "Schmidt", 0],
        ]
    )

    job = flow.check(content, ImportJob.Kind.CUSTOMERS, "formeln.xlsx")

    assert job.status == ImportJob.Status.INVALID
    [error] = job.errors
    assert (error["row"], error["column"]) == (2, "Kinder")
    assert "C2" in error["message"] and "formula" in error["message"]
    assert Customer.objects.count() == 0


# Bad files ------------------------------------------------------------------------------------


def test_a_csv_in_utf16_is_refused_with_the_reason(flow):
    with pytest.raises(FileProblem, match="UTF-16"):
        flow.upload(CUSTOMERS_CSV.encode("utf-16"), ImportJob.Kind.CUSTOMERS)
    assert ImportJob.objects.count() == 0


def test_bytes_that_are_neither_utf8_nor_windows_1252_are_refused(flow):
    with pytest.raises(FileProblem, match="Windows-1252"):
        flow.upload(b"Kundennummer;Name\r\nK-1;M\x81ller\r\n", ImportJob.Kind.CUSTOMERS)


@pytest.mark.parametrize("content", [b"", b"   \r\n", b"Kundennummer;Name\r\n"])
def test_empty_files_are_refused(flow, content):
    with pytest.raises(FileProblem):
        flow.upload(content, ImportJob.Kind.CUSTOMERS)
    assert ImportJob.objects.count() == 0


def test_an_old_excel_file_is_refused(flow):
    with pytest.raises(FileProblem, match=".xls"):
        flow.upload(b"\xd0\xcf\x11\xe0" + b"\x00" * 100, ImportJob.Kind.CUSTOMERS, "alt.xls")


def test_a_file_above_the_limit_is_refused_before_it_is_read(settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024

    class HugeUpload(SimpleUploadedFile):
        def read(self, *args, **kwargs):
            raise AssertionError("the content must not be read")

    upload = HugeUpload("gross.csv", b"x")
    upload.size = 200 * 1024 * 1024

    with pytest.raises(FileProblem, match="200"):
        services.import_job_create(upload=upload, kind=ImportJob.Kind.CUSTOMERS, by=OwnerFactory())
    assert ImportJob.objects.count() == 0


def test_a_row_with_more_cells_than_columns_is_an_error(flow):
    text = "Kundennummer;Name\r\nK-1;Mustermann;zu viel\r\nK-2;Schmidt\r\n"

    job = flow.check(csv_bytes(text), ImportJob.Kind.CUSTOMERS)

    assert job.status == ImportJob.Status.INVALID
    assert [e["row"] for e in job.errors] == [2]


def test_the_import_writes_the_audit_trail_with_user_and_file(flow, owner):
    flow.run(csv_bytes(CUSTOMERS_CSV), ImportJob.Kind.CUSTOMERS, "bestand.csv")
    flow.run(csv_bytes(CUSTOMERS_CSV.replace("Erfurt", "Weimar")), ImportJob.Kind.CUSTOMERS, "umzug.csv")

    moved = Customer.objects.get(number="K-1002")
    created, changed = moved.history.order_by("history_id")
    assert (created.history_type, created.history_user, created.city) == ("+", owner, "Erfurt")
    assert (changed.history_type, changed.city) == ("~", "Weimar")
    assert "umzug.csv" in changed.history_change_reason
    assert Customer.objects.get(number="K-1001").history.count() == 1


def test_a_restricted_customer_is_not_changed_by_an_import(flow):
    CustomerFactory(number="K-1002", name="Anonymisiert", restricted_at=dt.date(2026, 1, 1))
    contract_row = "Kundennummer;Versicherer;Sparte;Vertragsnummer;Beginn;Hauptfälligkeit;Jahresbeitrag\r\nK-1002;Muster AG;041;PH-9;01.01.2022;01.01.2023;100\r\n"

    customers = flow.check(csv_bytes(CUSTOMERS_CSV), ImportJob.Kind.CUSTOMERS)
    contracts = flow.check(csv_bytes(contract_row), ImportJob.Kind.CONTRACTS)

    assert [(e["row"], e["column"]) for e in customers.errors] == [(3, "Kundennummer")]
    assert "Art. 18" in customers.errors[0]["message"]
    assert contracts.status == ImportJob.Status.INVALID
    assert Customer.objects.get(number="K-1002").name == "Anonymisiert"
