"""A planning run over the book plans its chunks on several PostgreSQL connections at once
(settings.JOB_CONNECTIONS) and leaves exactly what one connection leaves. Needs PostgreSQL
(committed rows, seen by every connection); in CI it fails, never skips, without it."""

import datetime as dt
import random
import threading

import pytest
from django.db import transaction

from brokercrm.parallel import job_connections
from servicelevels import services
from servicelevels.models import PlanningRun
from servicelevels.services import care_tasks_plan
from tests.factories import StaffFactory

from .conftest import AS_OF
from .test_incremental import full_pass_result, random_book, random_changes, snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def small_chunks(monkeypatch, settings, require_postgres):
    settings.JOB_CONNECTIONS = 2
    monkeypatch.setattr(services, "PLAN_CHUNK_IDS", 4)
    monkeypatch.setattr(services, "PLAN_CHUNK_LIST", 3)


@pytest.fixture
def chunk_threads(monkeypatch):
    """The names of the threads that planned chunks; the first two chunks wait for each other,
    so the test fails (BrokenBarrierError) unless two connections plan at the same time."""
    names: list[str] = []
    barrier = threading.Barrier(2, timeout=20)
    lock = threading.Lock()
    plan_chunk = services._plan_chunk

    def spy(planner, chunk):
        name = threading.current_thread().name
        with lock:
            names.append(name)
            first_two = sum(n.startswith("care-plan") for n in names) <= 2 and name.startswith("care-plan")
        if first_two:
            barrier.wait()
        return plan_chunk(planner, chunk)

    monkeypatch.setattr(services, "_plan_chunk", spy)
    return names


def test_two_connections_leave_what_one_leaves(small_chunks, chunk_threads):
    rng = random.Random(11)
    customers = random_book(rng, 30)
    by = StaffFactory()
    day = AS_OF

    expected = full_pass_result(day)  # in a transaction: one connection
    assert len(chunk_threads) > 2 and not any(n.startswith("care-plan") for n in chunk_threads)
    chunk_threads.clear()
    first = care_tasks_plan(as_of=day)
    assert first.full and first.created > 0
    assert snapshot() == expected
    assert len(set(chunk_threads)) == 2 and all(n.startswith("care-plan") for n in chunk_threads)

    for _night in range(3):
        random_changes(rng, customers, day, by)
        day += dt.timedelta(days=1)
        expected = full_pass_result(day)
        chunk_threads.clear()
        result = care_tasks_plan(as_of=day)
        assert not result.full
        assert snapshot() == expected, f"night {_night}"
    assert PlanningRun.objects.filter(finished_at__isnull=True).count() == 0


def test_progress_counts_every_customer_once(small_chunks):
    random_book(random.Random(3), 12)
    calls = []

    result = care_tasks_plan(as_of=AS_OF, progress=lambda done, total: calls.append((done, total)))

    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1][0] == calls[-1][1] == result.customers
    assert len(calls) == len(services._range_chunks()[0])


def test_a_failing_chunk_fails_the_run_and_leaves_it_unfinished(small_chunks, monkeypatch):
    random_book(random.Random(5), 20)
    plan_chunk = services._plan_chunk
    calls = []

    def failing(planner, chunk):
        calls.append(chunk)
        if len(calls) == 3:
            raise RuntimeError("database went away")
        return plan_chunk(planner, chunk)

    monkeypatch.setattr(services, "_plan_chunk", failing)

    with pytest.raises(RuntimeError, match="database went away"):
        care_tasks_plan(as_of=AS_OF)

    run = PlanningRun.objects.get()
    assert run.finished_at is None  # the next run starts again from scratch (a full pass)
    monkeypatch.setattr(services, "_plan_chunk", plan_chunk)
    again = care_tasks_plan(as_of=AS_OF)
    assert again.full


def test_one_connection_inside_a_caller_transaction(small_chunks):
    assert job_connections(10) == 2
    assert job_connections(1) == 1
    with transaction.atomic():  # other connections would not see the caller's rows
        assert job_connections(10) == 1
