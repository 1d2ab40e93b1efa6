"""The job's life cycle: states, progress, and what a second click does."""

import pytest
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from customers.models import Customer
from imports import services
from imports.models import ImportJob
from tests.factories import CustomerFactory

from .factories import ImportJobFactory


@pytest.mark.django_db
def test_an_import_cannot_be_confirmed_twice(flow):
    job = flow.run(b"Kundennummer;Name\r\nK-1;Mustermann\r\n", ImportJob.Kind.CUSTOMERS)

    with pytest.raises(ValidationError):
        services.import_job_confirm(job=job)
    with pytest.raises(ValidationError):
        services.import_job_map(job=job, mapping=job.mapping)
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_a_failing_run_leaves_the_job_failed_and_nothing_written(monkeypatch):
    job = ImportJobFactory(status=ImportJob.Status.IMPORTING)

    def explode(*args, **kwargs):
        CustomerFactory(number="K-half")  # written before the failure ...
        raise RuntimeError("disk full")

    monkeypatch.setattr(
        "imports.services.IMPORTERS", {"customers": lambda **kw: type("X", (), {"run": explode})()}
    )
    job = services.import_job_run(job_id=job.pk, phase=services.IMPORT)

    assert job.status == ImportJob.Status.FAILED
    assert "RuntimeError" in job.message
    assert not Customer.objects.filter(number="K-half").exists()  # ... and rolled back


@pytest.mark.postgres
def test_progress_is_visible_while_the_import_transaction_is_open(
    require_postgres, transactional_db, django_db_serialized_rollback
):
    job = ImportJobFactory(status=ImportJob.Status.IMPORTING, total_rows=100)
    reporter = services.ProgressReporter(job, in_transaction=True)
    observer = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with transaction.atomic():
            CustomerFactory()
            reporter(40)
            with observer.cursor() as cursor:
                cursor.execute("SELECT processed_rows FROM imports_importjob WHERE id = %s", [job.pk])
                assert cursor.fetchone() == (40,)
    finally:
        reporter.close()
        observer.close()
