"""GDV-Datensatz VU-Vermittler: files written by the test writer, and the GDV's own sample."""

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Contract, Customer, Insurer
from imports.gdv_format import parse_gdv_date, read_gdv
from imports.models import ImportJob, InsurerCustomerNumber
from imports.parsing import FileProblem
from tests.factories import ContractFactory, CustomerFactory, InsurerFactory

from .gdv_writer import GdvContract, GdvFileWriter, GdvPerson, RecordBuilder

pytestmark = pytest.mark.django_db


def crm_counts() -> tuple[int, int, int]:
    return Customer.objects.count(), Contract.objects.count(), Insurer.objects.count()


def two_contracts_one_person() -> GdvFileWriter:
    erika = GdvPerson(
        insurer_number="KD-1001", email="erika@example.org", phone="03464 12345", familienstand="2"
    )
    writer = GdvFileWriter()
    writer.contract(
        GdvContract(policy="PH-0001", sparte="040", premium="000000008900", person=erika, extra_records=2)
    )
    writer.contract(
        GdvContract(policy="HR-0002", sparte="130", zahlungsweise="8", premium="000000001250", person=erika)
    )
    return writer


# The official sample ------------------------------------------------------------------------


def test_official_sample_reads_its_structure_and_totals(gdv_sample):
    parsed = read_gdv(gdv_sample)

    assert parsed.problems == []
    assert parsed.total_records == 165
    package = parsed.packages[0]
    assert package.vu_number == "9999"
    assert package.sender == "XXX Versicherung AG"
    assert len(package.contracts) == 14
    assert package.records == 162  # without Vorsatz (2) and Nachsatz (1), as the Nachsatz counts
    assert package.premium_sum == Decimal("4806.00")


def test_official_sample_imports_14_contracts_and_deduplicated_persons(flow, gdv_sample):
    job = flow.check(gdv_sample, ImportJob.Kind.GDV, "musterdatei_041222.txt")

    assert job.status == ImportJob.Status.READY, job.errors
    assert job.counts["records"] == 165
    assert job.counts["records_skipped"] == 107  # 0210, 0211, 0220, 0221
    assert job.counts["addresses"] == 14
    assert job.counts["persons"] == 10  # Wilhelm Fresy holds five contracts
    assert job.counts["create"] == 14
    [package] = job.checks["packages"]
    assert Decimal(package["premium_read"]) == Decimal(package["premium_declared"]) == Decimal("4806.00")
    assert package["records_read"] == int(package["records_declared"]) == 162
    assert crm_counts() == (0, 0, 0), "the check writes nothing"

    job = flow.confirm(job)

    assert job.status == ImportJob.Status.DONE
    assert Contract.objects.count() == 14
    assert Customer.objects.count() == 10
    insurer = Insurer.objects.get()
    assert (insurer.vu_number, insurer.name) == ("9999", "XXX Versicherung AG")
    fresy = Customer.objects.get(name="Fresy")
    assert fresy.contracts.count() == 5
    assert fresy.title == "Dottore"
    assert fresy.salutation == "1"
    assert fresy.birth_date == dt.date(1979, 12, 12)
    assert (fresy.postal_code, fresy.city, fresy.street) == ("50354", "Hürth", "Klerikalstr. 33")
    assert InsurerCustomerNumber.objects.filter(customer=fresy, number="W45BBB").exists()
    martina = Customer.objects.get(name="Kitzelpfütze")
    assert (martina.first_name, martina.salutation) == ("Martina", "2")
    bundle = Contract.objects.get(policy_number="59999999986")
    assert bundle.line_of_business.code == "000"  # Bündelvertrag
    monthly = Contract.objects.get(policy_number="59999999998")
    assert (monthly.payment_frequency, monthly.annual_premium) == ("8", Decimal("306.00"))  # 25,50 × 12
    yearly = Contract.objects.get(policy_number="59999999999")
    assert (yearly.status, yearly.annual_premium, yearly.start_date) == (
        "1",
        Decimal("411.41"),
        dt.date(2004, 5, 1),
    )
    assert yearly.main_due_date == dt.date(2005, 5, 1)
    assert yearly.end_date == dt.date(2009, 5, 1)


def test_official_sample_reimport_changes_nothing(flow, gdv_sample):
    flow.run(gdv_sample, ImportJob.Kind.GDV, "musterdatei_041222.txt")
    before = list(Contract.objects.order_by("pk").values_list("pk", "updated_at", "version"))

    job = flow.check(gdv_sample, ImportJob.Kind.GDV, "musterdatei_041222.txt")

    assert job.counts["create"] == 0
    assert job.counts["update"] == 0
    assert job.counts["unchanged"] == 14
    assert job.counts["customers_create"] == 0
    assert job.counts["customers_match"] == 10
    job = flow.confirm(job)
    assert job.status == ImportJob.Status.DONE
    assert crm_counts() == (10, 14, 1)
    assert list(Contract.objects.order_by("pk").values_list("pk", "updated_at", "version")) == before
    assert InsurerCustomerNumber.objects.count() == 10


# Files of our own ---------------------------------------------------------------------------


def test_persons_are_deduplicated_by_insurer_customer_number(flow):
    job = flow.run(two_contracts_one_person().build(), ImportJob.Kind.GDV, "bestand.gdv")

    assert job.counts["addresses"] == 2
    assert job.counts["persons"] == 1
    assert job.counts["records_skipped"] == 2
    customer = Customer.objects.get()
    assert customer.contracts.count() == 2
    assert (customer.email, customer.phone, customer.marital_status) == (
        "erika@example.org",
        "03464 12345",
        "2",
    )
    assert customer.number == "G0000001"
    assert Insurer.objects.get().name == "Muster Versicherung AG"


def test_persons_without_insurer_number_are_deduplicated_by_name_birth_date_and_address(flow):
    writer = GdvFileWriter()
    for policy in ("A-1", "A-2", "A-3"):
        writer.contract(GdvContract(policy=policy, person=GdvPerson(insurer_number="")))
    writer.contract(
        GdvContract(policy="B-1", person=GdvPerson(insurer_number="", first_name="Max", anrede="1"))
    )

    flow.run(writer.build(), ImportJob.Kind.GDV, "bestand.gdv")

    assert Customer.objects.count() == 2
    assert Customer.objects.get(first_name="Erika").contracts.count() == 3


def test_persons_are_matched_against_existing_customers(flow):
    existing = CustomerFactory(
        number="K0000042", name="Mustermann", first_name="Erika", birth_date=dt.date(1980, 5, 17),
        postal_code="06526", street="Hauptstraße 1", email="alt@example.org",
    )  # fmt: skip
    by_broker_number = CustomerFactory(number="K0000077", name="Anders")
    writer = GdvFileWriter()
    writer.contract(
        GdvContract(policy="PH-1", person=GdvPerson(insurer_number="KD-1", email="neu@example.org"))
    )
    writer.contract(
        GdvContract(
            policy="PH-2", person=GdvPerson(name="Brause", insurer_number="KD-2", broker_number="K0000077")
        )
    )

    job = flow.run(writer.build(), ImportJob.Kind.GDV, "bestand.gdv")

    assert job.counts["customers_match"] == 2
    assert Customer.objects.count() == 2
    assert Contract.objects.get(policy_number="PH-1").customer == existing
    assert Contract.objects.get(policy_number="PH-2").customer == by_broker_number
    existing.refresh_from_db()
    assert existing.email == "alt@example.org", "the CRM's person data is not overwritten"


def test_broker_customer_number_from_the_file_becomes_the_customer_number(flow):
    writer = GdvFileWriter()
    writer.contract(GdvContract(person=GdvPerson(broker_number="M-2026-17")))

    flow.run(writer.build(), ImportJob.Kind.GDV, "bestand.gdv")

    assert Customer.objects.get().number == "M-2026-17"


def test_a_known_insurer_is_found_by_vu_number_and_changed_contracts_are_updated(flow):
    insurer = InsurerFactory(name="Muster Leben AG", vu_number="12345")
    customer = CustomerFactory(
        name="Mustermann",
        first_name="Erika",
        birth_date=dt.date(1980, 5, 17),
        postal_code="06526",
        street="Hauptstraße 1",
    )
    contract = ContractFactory(
        insurer=insurer,
        customer=customer,
        policy_number="PH-0001",
        status="1",
        annual_premium=Decimal("80.00"),
    )
    writer = GdvFileWriter()
    writer.contract(GdvContract(policy="PH-0001", status="4", premium="000000009900"))

    job = flow.run(writer.build(), ImportJob.Kind.GDV, "bestand.gdv")

    assert job.counts["update"] == 1
    contract.refresh_from_db()
    assert (contract.status, contract.annual_premium, contract.version) == ("4", Decimal("99.00"), 2)
    assert Insurer.objects.get().name == "Muster Leben AG"


def test_unknown_codes_are_reported_not_guessed(flow):
    writer = GdvFileWriter()
    writer.contract(GdvContract(policy="X-1", sparte="999"))
    writer.contract(GdvContract(policy="X-2", status="Z"))
    writer.contract(GdvContract(policy="X-3", zahlungsweise="0"))
    writer.contract(GdvContract(policy="X-4", person=GdvPerson(anrede="9", insurer_number="KD-9")))

    job = flow.check(writer.build(), ImportJob.Kind.GDV, "codes.gdv")

    assert job.status == ImportJob.Status.INVALID
    columns = {e["column"] for e in job.errors}
    assert "0200 Sparte (Pos. 11–13)" in columns
    assert "0200 Vertragsstatus (Pos. 69)" in columns
    assert "0200 Zahlungsweise (Pos. 68)" in columns
    assert "0100 Anredeschlüssel (Pos. 43)" in columns
    assert crm_counts() == (0, 0, 0)


def test_dates_use_ttmmjjjj_with_zero_for_unknown_parts():
    assert parse_gdv_date("17051980") == (dt.date(1980, 5, 17), False)
    assert parse_gdv_date("00000000") == (None, False)
    assert parse_gdv_date("        ") == (None, False)
    assert parse_gdv_date("00051980") == (dt.date(1980, 5, 1), True)
    assert parse_gdv_date("00001980") == (dt.date(1980, 1, 1), True)
    with pytest.raises(ValueError):
        parse_gdv_date("31022020")


def test_a_partly_known_birth_date_is_imported_with_a_note(flow):
    writer = GdvFileWriter()
    writer.contract(GdvContract(person=GdvPerson(birth="00001975")))

    job = flow.run(writer.build(), ImportJob.Kind.GDV, "bestand.gdv")

    assert Customer.objects.get().birth_date == dt.date(1975, 1, 1)
    assert job.warning_count == 1


def test_unix_line_ends_are_read_too(flow):
    writer = two_contracts_one_person()

    job = flow.run(writer.build(line_end="\n"), ImportJob.Kind.GDV, "unix.gdv")

    assert job.status == ImportJob.Status.DONE
    assert Contract.objects.count() == 2


# Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [255, 257])
def test_a_record_of_wrong_length_rejects_the_file(flow, length):
    writer = two_contracts_one_person()
    lines = writer.lines()
    lines[2] = lines[2][:255] if length == 255 else lines[2] + "X"
    content = "".join(line + "\r\n" for line in lines).encode("iso-8859-1")

    job = flow.check(content, ImportJob.Kind.GDV, "kaputt.gdv")

    assert job.status == ImportJob.Status.INVALID
    [error] = [e for e in job.errors if e["column"] == "record length"]
    assert error["row"] == 3
    assert str(length) in error["message"]
    assert crm_counts() == (0, 0, 0)


def test_an_unknown_satzart_rejects_the_file(flow):
    writer = two_contracts_one_person()
    writer.raw(RecordBuilder("0815", 1).key("12345", "040", "PH-0001").text())

    job = flow.check(writer.build(), ImportJob.Kind.GDV, "satzart.gdv")

    assert job.status == ImportJob.Status.INVALID
    assert any("0815" in e["message"] and e["row"] == len(writer.lines()) - 1 for e in job.errors)
    assert crm_counts() == (0, 0, 0)


def test_a_date_that_does_not_exist_is_reported_with_line_and_field(flow):
    writer = GdvFileWriter()
    writer.contract(GdvContract(start="31022020"))

    job = flow.check(writer.build(), ImportJob.Kind.GDV, "datum.gdv")

    assert job.status == ImportJob.Status.INVALID
    [error] = job.errors
    assert error["column"] == "0200 Vertragsbeginn (Pos. 44–51)"
    assert error["row"] == 4
    assert "31.02.2020" in error["message"]


def test_a_premium_with_letters_is_reported(flow):
    writer = GdvFileWriter()
    writer.contract(GdvContract(premium="0000000089AB"))

    job = flow.check(writer.build(total_cents=0), ImportJob.Kind.GDV, "beitrag.gdv")

    assert job.status == ImportJob.Status.INVALID
    assert any(e["column"] == "0200 Gesamtbeitrag (Netto) (Pos. 116–127)" for e in job.errors)
    assert crm_counts() == (0, 0, 0)


def test_a_nachsatz_count_that_differs_rejects_the_file(flow):
    writer = two_contracts_one_person()

    job = flow.check(writer.build(count=len(writer.records) + 1), ImportJob.Kind.GDV, "anzahl.gdv")

    assert job.status == ImportJob.Status.INVALID
    assert any(e["column"] == "9999 Anzahl der Sätze (Pos. 5–14)" for e in job.errors)


def test_a_gesamtbeitrag_that_differs_rejects_the_file(flow):
    writer = two_contracts_one_person()

    job = flow.check(writer.build(total_cents=writer.premium_cents + 1), ImportJob.Kind.GDV, "summe.gdv")

    assert job.status == ImportJob.Status.INVALID
    [error] = [e for e in job.errors if e["column"] == "9999 Gesamtbeitrag (Pos. 25–39)"]
    assert "101,51 €" in error["message"] and "101,50 €" in error["message"]
    assert crm_counts() == (0, 0, 0)


def test_a_truncated_file_is_rejected(flow, gdv_sample):
    lines = gdv_sample.split(b"\n")
    truncated = b"\n".join(lines[:100]) + b"\n"

    job = flow.check(truncated, ImportJob.Kind.GDV, "abgeschnitten.txt")

    assert job.status == ImportJob.Status.INVALID
    assert any("9999" in e["column"] and "incomplete" in e["message"] for e in job.errors)
    assert crm_counts() == (0, 0, 0)


def test_a_file_cut_inside_a_record_is_rejected(flow):
    content = two_contracts_one_person().build()

    job = flow.check(content[:-300], ImportJob.Kind.GDV, "abgeschnitten.gdv")

    assert job.status == ImportJob.Status.INVALID
    assert crm_counts() == (0, 0, 0)


def test_a_utf8_encoded_gdv_file_is_refused_with_the_reason(flow):
    writer = two_contracts_one_person()

    with pytest.raises(FileProblem, match="UTF-8"):
        flow.upload(writer.build(encoding="utf-8"), ImportJob.Kind.GDV, "utf8.gdv")
    assert ImportJob.objects.count() == 0


def test_an_empty_gdv_file_is_refused(flow):
    with pytest.raises(FileProblem, match="empty"):
        flow.upload(b"", ImportJob.Kind.GDV, "leer.gdv")
    with pytest.raises(FileProblem, match="empty"):
        flow.upload(b"\r\n\r\n", ImportJob.Kind.GDV, "leer.gdv")


def test_a_change_in_the_crm_between_check_and_import_leaves_nothing_written(flow):
    job = flow.check(two_contracts_one_person().build(), ImportJob.Kind.GDV, "bestand.gdv")
    CustomerFactory(
        name="Mustermann",
        first_name="Erika",
        birth_date=dt.date(1980, 5, 17),
        postal_code="06526",
        street="Hauptstraße 1",
    )
    CustomerFactory(
        name="Mustermann",
        first_name="Erika",
        birth_date=dt.date(1980, 5, 17),
        postal_code="06526",
        street="Hauptstraße 1",
    )

    job = flow.confirm(job)

    assert job.status == ImportJob.Status.FAILED
    assert job.message
    assert crm_counts()[1:] == (0, 0)


def test_a_csv_uploaded_as_gdv_file_is_refused(flow):
    with pytest.raises(FileProblem, match="not a GDV file"):
        flow.upload(b"Kundennummer;Name\r\nK-1;Mustermann\r\n", ImportJob.Kind.GDV, "kunden.csv")


def test_a_gdv_file_uploaded_as_customers_is_refused(flow):
    with pytest.raises(FileProblem, match="GDV file"):
        flow.upload(two_contracts_one_person().build(), ImportJob.Kind.CUSTOMERS, "bestand.gdv")


def test_a_bad_address_is_reported_once_and_its_contract_not_read(flow):
    writer = GdvFileWriter()
    writer.contract(GdvContract(policy="PH-1", person=GdvPerson(plz="1234")))
    writer.contract(GdvContract(policy="PH-2", person=GdvPerson(insurer_number="KD-2")))

    job = flow.check(writer.build(), ImportJob.Kind.GDV, "plz.gdv")

    assert [e["column"] for e in job.errors] == ["0100 Postleitzahl (Pos. 157–162)"]
    assert job.errors[0]["row"] == 2


def test_a_contract_without_policyholder_is_an_error(flow):
    writer = GdvFileWriter()
    writer.contract(GdvContract(policy="PH-1", person=GdvPerson(adresskennzeichen="02")))

    job = flow.check(writer.build(), ImportJob.Kind.GDV, "ohne-vn.gdv")

    assert job.counts["addresses_other"] == 1
    assert "PH-1" in job.errors[0]["message"]


def test_a_gdv_import_writes_the_audit_trail(flow, owner):
    flow.run(two_contracts_one_person().build(), ImportJob.Kind.GDV, "bestand.gdv")

    contract = Contract.objects.get(policy_number="PH-0001")
    [entry] = contract.history.all()
    assert (entry.history_type, entry.history_user) == ("+", owner)
    assert "bestand.gdv" in entry.history_change_reason
    assert Customer.objects.get().history.count() == 1


def test_a_person_matching_a_restricted_customer_is_an_error(flow):
    CustomerFactory(
        number="K-9", name="Mustermann", first_name="Erika", birth_date=dt.date(1980, 5, 17),
        postal_code="06526", street="Hauptstraße 1", restricted_at=dt.date(2026, 1, 1),
    )  # fmt: skip

    job = flow.check(two_contracts_one_person().build(), ImportJob.Kind.GDV, "bestand.gdv")

    assert job.status == ImportJob.Status.INVALID
    assert "Art. 18" in job.errors[0]["message"]
