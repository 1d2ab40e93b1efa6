"""The background run: the Celery task, large files queued on commit, and a real worker."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from brokercrm.celery import app as celery_app
from customers.models import Customer
from imports import services
from imports.models import ImportJob
from imports.tasks import run_import_job
from tests.conftest import redis_available, redis_url, require_service

from .factories import ImportJobFactory

ROOT = Path(__file__).resolve().parents[2]
CSV = "Kundennummer;Name;PLZ\r\n" + "".join(f"K-{n};Kunde {n};06526\r\n" for n in range(300))


@pytest.mark.django_db
def test_the_task_loads_the_job_and_runs_the_check():
    job = ImportJobFactory(status=ImportJob.Status.CHECKING)

    result = run_import_job.apply(args=[job.pk, "check"]).get()

    job.refresh_from_db()
    assert result == job.status == ImportJob.Status.READY
    assert job.counts["create"] == 1


@pytest.mark.django_db
def test_a_task_delivered_twice_imports_once():
    job = ImportJobFactory(status=ImportJob.Status.IMPORTING)

    run_import_job.apply(args=[job.pk, "import"])
    run_import_job.apply(args=[job.pk, "import"])

    assert Customer.objects.count() == 1
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.DONE


@pytest.fixture
def eager_celery():
    """Runs queued tasks in-process, as without a broker (CI configures a real one)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.mark.django_db
def test_large_files_go_to_the_worker_after_commit(flow, settings, eager_celery):
    settings.IMPORT_INLINE_MAX_BYTES = 100

    job = flow.check(CSV.encode(), ImportJob.Kind.CUSTOMERS)
    assert job.status == ImportJob.Status.READY
    assert (job.total_rows, job.processed_rows) == (300, 300)

    job = flow.confirm(job)
    assert job.status == ImportJob.Status.DONE
    assert Customer.objects.count() == 300


@pytest.fixture
def worker_broker(require_postgres):
    """Redis DB 6 for a real worker, and PostgreSQL (a worker process needs a database it shares
    with the test); checked before the test database is set up, so a skip leaves it untouched."""
    broker = redis_url(6)
    require_service("Redis", redis_available(broker), broker)
    return broker


@pytest.fixture
def worker_queue(worker_broker, transactional_db, django_db_serialized_rollback, tmp_path):
    """A real Celery worker that works on this test's database; yields a client and its queue."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": worker_broker,
        "CELERY_BROKER_URL": worker_broker,
        "CELERY_RESULT_BACKEND": "",
    }
    queue = f"imports-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "brokercrm", "worker", "--pool=solo", "-Q", queue,
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        # Not the current app: shared tasks (the nightly canvas) would otherwise resolve to this
        # broker-only app, without a result backend, in every later test of the session.
        yield Celery(broker=worker_broker, set_as_current=False), queue, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.celery_worker
@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_checks_and_imports(worker_queue, owner):
    client, queue, log = worker_queue
    job = services.import_job_create_from_bytes(
        content=CSV.encode(), file_name="gross.csv", kind="customers", by=owner
    )
    services.import_job_map(job=job, mapping=job.mapping, dispatch=False)

    client.send_task("imports.tasks.run_import_job", args=[job.pk, "check"], queue=queue)
    job = wait_for(job, ImportJob.Status.READY, log)
    services.import_job_confirm(job=job, dispatch=False)
    client.send_task("imports.tasks.run_import_job", args=[job.pk, "import"], queue=queue)
    wait_for(job, ImportJob.Status.DONE, log)

    assert Customer.objects.count() == 300


def wait_for(job: ImportJob, status: str, log: Path, timeout: float = 90) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == status:
            return job
        assert job.status not in (ImportJob.Status.FAILED, ImportJob.Status.INVALID), (
            job.message,
            job.errors,
        )
        time.sleep(0.3)
    raise AssertionError(f"the worker did not finish ({job.status}):\n{log.read_text()[-3000:]}")
