"""A reclassification run in-process processes the chunks of each phase on several PostgreSQL
connections at once (settings.JOB_CONNECTIONS, brokercrm.parallel) and leaves exactly what one
connection leaves. Needs PostgreSQL (committed rows, seen by every connection); in CI it fails,
never skips, without it."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import transaction

from brokercrm.parallel import job_connections
from segmentation import services
from segmentation.models import ClassChange, ReclassificationRun, RunChunk, RunStatus, ThresholdMethod
from tests.segmentation.factories import build_book, set_policy
from tests.segmentation.state import reset_classification, snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
AS_OF = dt.date(2026, 6, 30)
CHUNK = 10


@pytest.fixture
def two_connections(settings, require_postgres):
    settings.JOB_CONNECTIONS = 2


@pytest.fixture
def chunk_threads(monkeypatch):
    """The names of the threads that processed chunks; the first two chunks of a phase wait
    for each other, so the test fails (BrokenBarrierError) unless two connections work at once."""
    names: list[str] = []
    barrier = threading.Barrier(2, timeout=20)
    lock = threading.Lock()
    process = services._process_chunk

    def spy(chunk_id):
        name = threading.current_thread().name
        with lock:
            names.append(name)
            meet = name.startswith("reclassify") and len(names) <= 2
        if meet:
            barrier.wait()
        return process(chunk_id)

    monkeypatch.setattr(services, "_process_chunk", spy)
    return names


def run_nights(nights: int) -> list[dict]:
    states = []
    for night in range(nights):
        run = services.reclassification_run(
            as_of=AS_OF + dt.timedelta(days=night), chunk_size=CHUNK, followup=False
        )
        assert run.status == RunStatus.FINISHED
        states.append({**snapshot(), "transitions": run.transitions, "changed": run.changed})
    return states


@pytest.mark.parametrize("two_pass", [False, True], ids=["absolute", "pareto"])
def test_two_connections_leave_what_one_leaves(two_connections, chunk_threads, settings, two_pass):
    build_book(45)
    if two_pass:
        set_policy(revenue_method=ThresholdMethod.PARETO, revenue_value=Decimal("80"))
    settings.JOB_CONNECTIONS = 1
    expected = run_nights(2)
    assert set(chunk_threads) == {threading.current_thread().name}  # one connection: the caller's
    assert expected[0]["changed"] > 0 and ClassChange.objects.exists()
    reset_classification()
    chunk_threads.clear()

    settings.JOB_CONNECTIONS = 2
    assert run_nights(2) == expected
    assert set(chunk_threads) == {"reclassify_0", "reclassify_1"}
    run = ReclassificationRun.objects.order_by("id").first()
    assert run.two_pass is two_pass
    assert run.chunks.count() == (10 if two_pass else 5)


def test_progress_counts_every_chunk_once(two_connections):
    build_book(45)
    calls = []

    run = services.reclassification_run(
        as_of=AS_OF,
        chunk_size=CHUNK,
        followup=False,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert calls == [(n, 5) for n in range(6)]
    assert run.customers == 45


def test_a_failing_chunk_fails_the_run_and_the_next_start_resumes_it(two_connections, monkeypatch):
    build_book(45)
    services.reclassification_run(as_of=AS_OF, chunk_size=CHUNK, followup=False)
    expected = snapshot()
    reset_classification()
    process = services._process_chunk
    calls = []

    def failing(chunk_id):
        calls.append(chunk_id)
        if len(calls) == 3:
            raise RuntimeError("database went away")
        return process(chunk_id)

    monkeypatch.setattr(services, "_process_chunk", failing)
    with pytest.raises(RuntimeError, match="database went away"):
        services.reclassification_run(as_of=AS_OF, chunk_size=CHUNK, followup=False)

    run = ReclassificationRun.objects.get()
    assert run.status == RunStatus.FAILED and "database went away" in run.errors
    assert 0 < RunChunk.objects.filter(run=run, done_at__isnull=False).count() < 5
    monkeypatch.setattr(services, "_process_chunk", process)
    again = services.reclassification_run(as_of=AS_OF, chunk_size=CHUNK, followup=False)
    assert again.pk == run.pk and again.status == RunStatus.FINISHED
    assert snapshot() == expected


def test_one_connection_inside_a_caller_transaction(two_connections):
    assert job_connections(10) == 2
    assert job_connections(1) == 1
    with transaction.atomic():  # other connections would not see the caller's rows
        assert job_connections(10) == 1
