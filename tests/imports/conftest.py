"""Fixtures of the import tests: the flow's steps with their on-commit work run at once."""

import pytest
from django.utils import translation

from imports import services
from imports.models import ImportJob

from .samples import GDV_SAMPLE, gdv_sample_available


@pytest.fixture
def gdv_sample() -> bytes:
    if not gdv_sample_available():
        pytest.skip("the shared GDV reference data (../shared/domain/gdv/) is not present")
    return GDV_SAMPLE.read_bytes()


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English, whatever the German catalogue says (requests still run
    in the user's language)."""
    with translation.override("en"):
        yield


class Flow:
    """upload -> mapping -> check -> confirm, as the pages call them."""

    def __init__(self, capture, user) -> None:
        self.capture = capture
        self.user = user

    def upload(self, content: bytes, kind: str, name: str = "import.csv") -> ImportJob:
        with self.capture(execute=True):
            job = services.import_job_create_from_bytes(
                content=content, file_name=name, kind=kind, by=self.user
            )
        return ImportJob.objects.get(pk=job.pk)

    def check(
        self, content: bytes, kind: str, name: str = "import.csv", mapping: dict | None = None
    ) -> ImportJob:
        job = self.upload(content, kind, name)
        if job.kind == ImportJob.Kind.GDV:
            return job
        with self.capture(execute=True):
            services.import_job_map(job=job, mapping=mapping if mapping is not None else job.mapping)
        return ImportJob.objects.get(pk=job.pk)

    def confirm(self, job: ImportJob) -> ImportJob:
        with self.capture(execute=True):
            services.import_job_confirm(job=job)
        return ImportJob.objects.get(pk=job.pk)

    def run(self, content: bytes, kind: str, name: str = "import.csv") -> ImportJob:
        job = self.check(content, kind, name)
        assert job.status == ImportJob.Status.READY, job.errors or job.message
        return self.confirm(job)


@pytest.fixture
def flow(django_capture_on_commit_callbacks, owner) -> Flow:
    return Flow(django_capture_on_commit_callbacks, owner)
