"""Bad uploads through the real page, for every kind of import: files of the wrong format,
in an unreadable encoding, or above the limit are refused with a clear message at the file
field, and nothing is written (no import job, no stored file, no customer, contract or
booking). The oversized body and the simplest cases are in test_views.py; this walks the rest."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import CommissionBooking, Contract, Customer
from imports.models import ImportJob

pytestmark = pytest.mark.django_db
KINDS = [ImportJob.Kind.CUSTOMERS, ImportJob.Kind.CONTRACTS, ImportJob.Kind.BOOKINGS, ImportJob.Kind.GDV]
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "kein Excel")
    return buffer.getvalue()


BAD_FILES = {
    "png named .csv": (PNG, "kunden.csv"),
    "zip named .xlsx": (zip_without_workbook(), "kunden.xlsx"),
    "truncated xlsx": (b"PK\x03\x04" + b"\x00" * 40, "kunden.xlsx"),
    "binary noise": (bytes(range(256)) * 16, "kunden.csv"),
    "neither UTF-8 nor Windows-1252": (b"Name;PLZ\r\n\x81\x8d\x8f\x90\x9d;06526\r\n", "kunden.csv"),
    "UTF-16 with BOM": ("Kundennummer;Name;PLZ\r\nK-1;Müller;06526\r\n".encode("utf-16"), "kunden.csv"),
    "UTF-32": ("Kundennummer;Name\r\nK-1;Müller\r\n".encode("utf-32"), "kunden.csv"),
    "only blank lines": (b"\r\n\r\n\r\n", "kunden.csv"),
    "NUL bytes in a CSV": (b"Kundennummer;Name\r\nK-1;M\x00ller\r\n", "kunden.csv"),
}


def upload(client, content: bytes, *, kind: str, name: str):
    return client.post(reverse("imports:start"), {"kind": kind, "file": SimpleUploadedFile(name, content)})


def nothing_written() -> bool:
    return not (
        ImportJob.objects.exists()
        or Customer.objects.exists()
        or Contract.objects.exists()
        or CommissionBooking.objects.exists()
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_refused_at_the_field_and_nothing_is_written(owner_client, owner, case, kind):
    owner.language = "en"
    owner.save(update_fields=["language"])
    content, name = BAD_FILES[case]
    if kind == ImportJob.Kind.GDV:
        name = name.rsplit(".", 1)[0] + ".gdv"

    response = upload(owner_client, content, kind=kind, name=name)

    assert response.status_code == 200, (case, kind, response.get("Location"))
    [message] = response.context["form"].errors["file"]
    assert len(message) > 15 and "Traceback" not in message, message
    assert message in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert nothing_written(), (case, kind)


@pytest.mark.parametrize("kind", KINDS[:3])
def test_a_text_file_that_is_no_table_stops_at_the_mapping_and_imports_nothing(owner_client, kind):
    """A PDF is text to a CSV reader (one column "%PDF-1.7"): the upload is kept as a job in
    the mapping step, which says which required columns are missing; nothing is imported.
    (Refusing it at the upload would need a content sniff in the imports app.)"""
    response = upload(owner_client, PDF, kind=kind, name="kunden.csv")

    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert owner_client.get(response["Location"]).status_code == 200
    mapping = owner_client.post(reverse("imports:mapping", args=[job.pk]), {"column_0": ""})
    assert mapping.status_code == 200
    assert 'id="mapping-errors"' in mapping.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.MAPPING
    assert not (Customer.objects.exists() or Contract.objects.exists() or CommissionBooking.objects.exists())


def test_a_pdf_as_gdv_file_is_refused_at_the_field(owner_client):
    response = upload(owner_client, PDF, kind=ImportJob.Kind.GDV, name="bestand.gdv")
    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert nothing_written()


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_above_the_limit_is_refused_for_every_kind(owner_client, settings, kind):
    settings.IMPORT_MAX_UPLOAD_BYTES = 2048
    content = b"Kundennummer;Name\r\n" + b"K-1;Mustermann\r\n" * 500

    response = upload(owner_client, content, kind=kind, name="gross.csv")

    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert nothing_written()


def test_no_file_at_all_is_a_field_message(owner_client):
    response = owner_client.post(reverse("imports:start"), {"kind": "customers"})
    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert nothing_written()
