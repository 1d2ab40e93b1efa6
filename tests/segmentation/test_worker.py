"""The job with real Celery workers on Redis and PostgreSQL: the chord of chunk tasks, and a
worker killed with SIGKILL part-way through a run, restarted, and compared with an
uninterrupted run. In CI these fail (never skip) when PostgreSQL or Redis are missing."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, connections

from segmentation import services
from segmentation.models import ClassChange, ReclassificationRun, RunChunk, ThresholdMethod
from tests.segmentation.conftest import celery_using
from tests.segmentation.factories import build_book, set_policy
from tests.segmentation.state import reset_classification, snapshot

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
AS_OF = dt.date(2026, 6, 30)
ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def run_status(run_id: int) -> str:
    return ReclassificationRun.objects.values_list("status", flat=True).get(pk=run_id)


def reference_state(chunk_size: int):
    """The state an uninterrupted in-process run produces from an unclassified book."""
    reset_classification()
    run = services.reclassification_run(as_of=AS_OF, chunk_size=chunk_size)
    return snapshot(), run.transitions


@pytest.fixture
def short_lived_connections():
    """Worker threads close their database connection after each task (Celery's Django fixup
    keeps it with CONN_MAX_AGE), so the test database can be flushed afterwards."""
    settings = connections.settings["default"]
    saved = settings.get("CONN_MAX_AGE")
    settings["CONN_MAX_AGE"] = 0
    yield
    settings["CONN_MAX_AGE"] = saved


def test_chord_of_chunk_tasks_on_a_real_worker(require_postgres, seg_redis, short_lived_connections):
    from celery.contrib.testing import tasks as _ping  # noqa: F401 - registers celery.ping
    from celery.contrib.testing.worker import start_worker

    set_policy(revenue_method=ThresholdMethod.QUANTILE, revenue_value=Decimal("20"))
    build_book(70)

    with (
        celery_using(*seg_redis) as app,
        start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=30),
    ):
        run = services.reclassification_dispatch(as_of=AS_OF, chunk_size=8)
        wait_for(lambda: run_status(run.pk) == "finished", 90, "the run to finish")
        again = services.reclassification_dispatch(as_of=AS_OF, chunk_size=8)
        wait_for(lambda: run_status(again.pk) == "finished", 90, "the second run to finish")

    run.refresh_from_db()
    again.refresh_from_db()
    assert run.two_pass and run.chunks.filter(done_at__isnull=False).count() == 2 * 9
    assert (again.changed, again.figures_changed) == (0, 0)
    worker_state, transitions = snapshot(), run.transitions
    assert ClassChange.objects.count() == sum(transitions.values())
    assert reference_state(8) == (worker_state, transitions)


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "celery", "-A", "tests.segmentation.slow_worker", "worker",
        "--pool=solo", "--concurrency=1", "--without-heartbeat", "--without-gossip", "--without-mingle",
        "--loglevel=INFO", "-n", f"seg-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_worker_killed_mid_run_and_restarted_ends_like_an_uninterrupted_run(
    require_postgres, seg_redis, tmp_path
):
    set_policy(revenue_method=ThresholdMethod.PARETO, revenue_value=Decimal("80"))
    build_book(120)
    broker, results = seg_redis
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "brokercrm.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": broker,
        "CELERY_RESULT_BACKEND": results,
        "CONN_MAX_AGE": "0",
        "PYTHONPATH": str(ROOT),
    }
    log = tmp_path / "worker.log"
    first = _start_worker({**env, "SEG_TEST_CHUNK_DELAY": "0.4"}, log)
    second = None
    try:
        with celery_using(broker, results):
            run = services.reclassification_dispatch(as_of=AS_OF, chunk_size=10)
            done = RunChunk.objects.filter(run=run, done_at__isnull=False)
            wait_for(lambda: done.count() >= 5, 60, "5 chunks to be done")

            os.kill(first.pid, signal.SIGKILL)  # mid-run: the worker is inside a chunk
            first.wait(timeout=10)

            finished_before_restart = done.count()
            assert run_status(run.pk) == "running"
            assert finished_before_restart < run.chunks.count()

            second = _start_worker({**env, "SEG_TEST_CHUNK_DELAY": "0"}, log)
            resumed = services.reclassification_dispatch(as_of=AS_OF, chunk_size=10)
            assert resumed.pk == run.pk
            wait_for(lambda: run_status(run.pk) == "finished", 120, "the resumed run to finish", interval=0.3)
    finally:
        for process in (first, second):
            if process is not None:
                _stop(process)
        print(log.read_text(errors="replace")[-4000:])

    run.refresh_from_db()
    killed_state, transitions = snapshot(), run.transitions
    assert ClassChange.objects.count() == sum(transitions.values())  # no duplicate history rows
    assert ClassChange.objects.values("customer_id", "date").distinct().count() == ClassChange.objects.count()
    assert reference_state(10) == (killed_state, transitions)
