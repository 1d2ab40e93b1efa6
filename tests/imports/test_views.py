"""The owner's import pages: access, upload, mapping, preview, confirm, progress."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from customers.models import Customer
from imports.models import ImportJob
from tests.factories import CommissionBookingFactory, ContractFactory, CustomerFactory

from .factories import ImportJobFactory

pytestmark = pytest.mark.django_db

CSV = (
    b"Kundennummer;Vorname;Name;PLZ;Ort\r\n"
    b"K-1;Erika;Mustermann;06526;Sangerhausen\r\n"
    b"K-2;Max;Schmidt;99084;Erfurt\r\n"
)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def upload(client, content: bytes, kind: str = "customers", name: str = "kunden.csv"):
    return client.post(reverse("imports:start"), {"kind": kind, "file": SimpleUploadedFile(name, content)})


def test_pages_are_for_the_owner_only(staff_client):
    job = ImportJobFactory()
    anonymous = Client()
    urls = [
        reverse("imports:start"),
        reverse("imports:job", args=[job.pk]),
        reverse("imports:mapping", args=[job.pk]),
        reverse("imports:progress", args=[job.pk]),
        reverse("imports:export", args=["customers", "csv"]),
    ]
    for url in urls:
        assert staff_client.get(url).status_code == 403, url
        assert anonymous.get(url).status_code == 302, url
    assert staff_client.post(reverse("imports:confirm", args=[job.pk])).status_code == 403
    assert staff_client.post(reverse("imports:start"), {"kind": "customers"}).status_code == 403


def test_the_navigation_links_to_the_import_for_the_owner(owner, staff):
    owner_client, staff_client = Client(), Client()
    owner_client.force_login(owner)
    staff_client.force_login(staff)
    link = f'href="{reverse("imports:start")}"'
    assert link in owner_client.get(reverse("password_change")).content.decode()
    assert link not in staff_client.get(reverse("password_change")).content.decode()


def test_upload_mapping_preview_confirm(owner_client, on_commit):
    response = upload(owner_client, CSV)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:mapping", args=[job.pk])

    page = owner_client.get(response["Location"]).content.decode()
    assert 'name="column_0"' in page and '<option value="customer_number" selected>' in page

    with on_commit():
        response = owner_client.post(
            reverse("imports:mapping", args=[job.pk]), {f"column_{i}": k for i, k in job.mapping.items()}
        )
    assert response["Location"] == job.get_absolute_url()
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert 'data-status="ready"' in page and 'id="confirm-form"' in page
    assert Customer.objects.count() == 0

    with on_commit():
        owner_client.post(reverse("imports:confirm", args=[job.pk]))
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert 'data-status="done"' in page
    assert "Mustermann" in page and "K-2" in page
    assert Customer.objects.count() == 2


def test_the_preview_lists_the_errors(owner_client, on_commit):
    bad = CSV + b"K-3;Jo;;1234;Halle\r\n"
    upload(owner_client, bad)
    job = ImportJob.objects.get()
    with on_commit():
        owner_client.post(
            reverse("imports:mapping", args=[job.pk]), {f"column_{i}": k for i, k in job.mapping.items()}
        )

    page = owner_client.get(job.get_absolute_url()).content.decode()

    assert 'id="import-errors"' in page and 'data-row="4"' in page
    assert 'id="confirm-form"' not in page and 'id="retry-form"' in page
    assert owner_client.post(reverse("imports:confirm", args=[job.pk])).status_code == 302
    assert Customer.objects.count() == 0


def test_a_missing_required_column_is_shown_at_the_mapping(owner_client):
    upload(owner_client, b"Kundennummer;Ort\r\nK-1;Halle\r\n")
    job = ImportJob.objects.get()

    response = owner_client.post(
        reverse("imports:mapping", args=[job.pk]), {"column_0": "customer_number", "column_1": "city"}
    )

    assert response.status_code == 200
    assert 'id="mapping-errors"' in response.content.decode()
    assert ImportJob.objects.get().status == ImportJob.Status.MAPPING


def test_an_oversized_upload_is_refused_before_its_body_is_read(owner_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024

    response = owner_client.post(
        reverse("imports:start"),
        data=b"not read",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(200 * 1024 * 1024),
    )

    assert response.status_code == 413
    assert 'id="upload-error"' in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_a_file_above_the_limit_is_refused_at_the_field(owner_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000

    response = upload(owner_client, CSV * 30)

    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"", "leer.csv"),
        ("Name;PLZ\r\n".encode("utf-16"), "utf16.csv"),
        (b"Kundennummer;Name\r\n", "kopf.csv"),
    ],
)
def test_unreadable_files_are_refused_at_the_field(owner_client, content, name):
    response = upload(owner_client, content, name=name)

    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert ImportJob.objects.count() == 0


def test_the_gdv_sample_is_checked_right_after_the_upload(owner_client, on_commit, gdv_sample):
    with on_commit():
        response = upload(owner_client, gdv_sample, kind="gdv", name="musterdatei_041222.txt")
    job = ImportJob.objects.get()
    assert response["Location"] == job.get_absolute_url()

    page = owner_client.get(job.get_absolute_url()).content.decode()

    assert 'id="gdv-checks"' in page and 'data-premium-read="4806.00"' in page
    assert job.status == ImportJob.Status.READY


def test_progress_is_polled_while_running_and_reloads_when_done(owner_client):
    job = ImportJobFactory(status=ImportJob.Status.IMPORTING, total_rows=200, processed_rows=50)

    running = owner_client.get(reverse("imports:progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert running.status_code == 200
    assert (
        'hx-trigger="every 1s"' in running.content.decode()
        and 'aria-valuenow="25"' in running.content.decode()
    )
    detail = owner_client.get(job.get_absolute_url()).content.decode()
    assert 'id="import-progress"' in detail

    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.DONE)
    finished = owner_client.get(reverse("imports:progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert finished.headers.get("HX-Refresh") == "true"
    plain = owner_client.get(reverse("imports:progress", args=[job.pk]))
    assert plain.status_code == 302


def test_a_job_in_mapping_opens_the_mapping(owner_client):
    job = ImportJobFactory(status=ImportJob.Status.MAPPING)

    response = owner_client.get(job.get_absolute_url())

    assert response["Location"] == reverse("imports:mapping", args=[job.pk])


def test_start_page_queries_stay_constant_as_jobs_grow(owner_client, django_assert_max_num_queries):
    ImportJobFactory.create_batch(10)
    with django_assert_max_num_queries(20) as small:
        owner_client.get(reverse("imports:start"))
    ImportJobFactory.create_batch(190)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = owner_client.get(reverse("imports:start"))
    assert response.status_code == 200


def test_an_upload_without_csrf_token_is_refused(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    response = upload(client, CSV)

    assert response.status_code == 403
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize("kind", ["customers", "contracts", "bookings"])
def test_result_page_queries_stay_constant_as_results_grow(owner_client, django_assert_max_num_queries, kind):
    factory = {
        "customers": CustomerFactory,
        "contracts": ContractFactory,
        "bookings": CommissionBookingFactory,
    }[kind]
    few = [obj.pk for obj in factory.create_batch(10)]
    job = ImportJobFactory(kind=kind, status=ImportJob.Status.DONE, checks={"ids": few})
    with django_assert_max_num_queries(20) as small:
        owner_client.get(job.get_absolute_url())
    many = few + [obj.pk for obj in factory.create_batch(190)]
    ImportJob.objects.filter(pk=job.pk).update(checks={"ids": many})
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = owner_client.get(job.get_absolute_url())
    assert response.content.decode().count("<tr") >= 200
