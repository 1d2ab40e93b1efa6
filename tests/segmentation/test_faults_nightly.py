"""The nightly job (reclassification chunks as a Celery canvas, then care planning and the
dashboard snapshot) with its worker killed by SIGKILL at several positions, on real Celery
workers, Redis and PostgreSQL.

Each case: an uninterrupted in-process run gives the reference state; the book is reset; the
job is dispatched to a worker subprocess that stops at the position (tests/segmentation/
slow_worker.py: a deterministic hook, no sleeps) and is killed there; the state at the kill is
checked (nothing half-written); a new worker is started, Redis redelivers the unacknowledged
message (acks_late; the worker's visibility timeout is short here) and the canvas goes on by
itself. The end state must equal the reference: classes/revenue/potential, class history,
care tasks, dashboard snapshot rows and the run record, without duplicates.

In CI these fail (never skip) when PostgreSQL or Redis are missing."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from dashboards.models import CareDay, ClassFlow, ClassSnapshot, DensityBin, RunSnapshot
from segmentation import services
from segmentation.models import ClassChange, ReclassificationRun, RunChunk, RunStatus, ThresholdMethod
from servicelevels.models import CareTask
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
BOOK, CHUNK = 30, 10  # two-pass policy: 3 figure chunks, thresholds, 3 classify chunks


def wait_for(condition, timeout: float, what: str, interval: float = 0.1, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker is not None and worker.poll() is not None:
            raise AssertionError(f"the worker exited ({worker.returncode}) while waiting for {what}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --- the state the job writes ---------------------------------------------------------------


def _rows(model, exclude=("id", "snapshot")) -> list[tuple]:
    names = [f.attname for f in model._meta.concrete_fields if f.name not in exclude]
    return sorted(model.objects.values_list(*names), key=repr)


def job_state() -> dict:
    """Everything the nightly job writes, without ids and clock times."""
    run_fields = (
        "as_of", "status", "trigger", "two_pass", "window_start", "chunk_size", "revenue_threshold",
        "potential_threshold", "customers", "changed", "figures_changed", "overrides_active",
        "overrides_ended", "transitions", "class_summary", "errors",
    )  # fmt: skip
    task_fields = (
        "customer_id", "activity_id", "contract_id", "line_of_business_id", "scope_key", "occurrence",
        "due_date", "assignee_id", "channel", "fallback_from", "status", "planned_on",
    )  # fmt: skip
    snapshot_fields = ("run__as_of", "bins", "revenue_low", "revenue_high", "potential_low", "potential_high")
    return {
        **snapshot(),
        "runs": list(ReclassificationRun.objects.order_by("id").values_list(*run_fields)),
        "care_tasks": sorted(CareTask.objects.values_list(*task_fields), key=repr),
        "snapshots": list(RunSnapshot.objects.order_by("id").values_list(*snapshot_fields)),
        **{model.__name__: _rows(model) for model in (ClassSnapshot, DensityBin, ClassFlow, CareDay)},
    }


def _diff(got: list, want: list) -> dict:
    return {"extra": [r for r in got if r not in want][:3], "missing": [r for r in want if r not in got][:3]}


def reset_job_state() -> None:
    from servicelevels import models as servicelevels_models

    reset_classification()  # also deletes the runs, and so their snapshots
    CareTask.objects.all().delete()
    for name in ("PlanningState", "PlanningRun"):  # what planning remembers between runs, if any
        model = getattr(servicelevels_models, name, None)
        if model is not None:
            model.objects.all().delete()


def reference_state() -> dict:
    """An uninterrupted run (in this process), then the book back to unclassified."""
    run = services.reclassification_run(
        as_of=AS_OF, chunk_size=CHUNK, trigger=ReclassificationRun.Trigger.SCHEDULE
    )
    assert run.two_pass and run.chunks.count() == 6
    state = job_state()
    assert state["care_tasks"] and state["ClassSnapshot"] and state["ClassFlow"]  # something to lose
    reset_job_state()
    return state


# --- workers --------------------------------------------------------------------------------


def worker_env(broker: str, results: str) -> dict:
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "brokercrm.settings",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": results,
        "CONN_MAX_AGE": "0",
        "PYTHONPATH": str(ROOT),
        "SEG_TEST_VISIBILITY_TIMEOUT": "1",
    }


def start_worker(env: dict, log: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "celery", "-A", "tests.segmentation.slow_worker", "worker",
        "--pool=solo", "--concurrency=1", "--without-heartbeat", "--without-gossip", "--without-mingle",
        "--loglevel=INFO", "-n", f"fault-{uuid.uuid4().hex[:8]}@%h", *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def job_done(run_id: int) -> bool:
    """The last step of the canvas (the snapshot) has completed."""
    return RunSnapshot.objects.filter(run_id=run_id, seconds__gt=0).exists()


# --- what must hold at the kill: the step in progress wrote nothing -------------------------


def _chunks_done(run: ReclassificationRun) -> int:
    return RunChunk.objects.filter(run=run, done_at__isnull=False).count()


def at_kill(position: str, run: ReclassificationRun, reference: dict) -> None:
    run.refresh_from_db()
    if position in ("first-chunk", "between-chunks", "last-chunk", "finish"):
        assert run.status == RunStatus.RUNNING
        assert not CareTask.objects.exists() and not RunSnapshot.objects.exists()
    if position == "first-chunk":
        assert _chunks_done(run) == 0
        assert not ClassChange.objects.exists()
    elif position == "between-chunks":
        assert _chunks_done(run) == 2  # committed, the task not acknowledged
    elif position == "last-chunk":
        assert _chunks_done(run) == 5
        done_ids = RunChunk.objects.filter(run=run, done_at__isnull=False, phase=RunChunk.Phase.CLASSIFY)
        assert done_ids.count() == 2
    elif position == "finish":
        assert _chunks_done(run) == 6
        assert run.finished_at is None and run.transitions == {}
    elif position == "care-planning":
        assert run.status == RunStatus.FINISHED
        assert not CareTask.objects.exists()  # the planning chunk's transaction died with it
        assert not RunSnapshot.objects.exists()
    elif position == "snapshot":
        assert run.status == RunStatus.FINISHED
        assert len(reference["care_tasks"]) == CareTask.objects.count()
        # snapshot_take is one transaction: its first rows were written, none committed
        assert not RunSnapshot.objects.exists() and not ClassSnapshot.objects.exists()


# Every position is killed once. To keep the runtime down, one run of the job is killed at three
# positions in turn (each kill checked on its own; a night with several crashes), so two runs
# cover the six positions.
KILL_SEQUENCES = {
    "first-chunk,finish,snapshot": ["first-chunk", "finish", "snapshot"],
    "between-chunks,last-chunk,care-planning": ["between-chunks", "last-chunk", "care-planning"],
}


@pytest.mark.parametrize("positions", list(KILL_SEQUENCES.values()), ids=list(KILL_SEQUENCES))
def test_nightly_job_killed_and_restarted_ends_like_an_uninterrupted_run(
    positions, require_postgres, seg_redis, tmp_path
):
    set_policy(revenue_method=ThresholdMethod.PARETO, revenue_value=Decimal("80"))
    build_book(BOOK)
    reference = reference_state()
    broker, results = seg_redis
    env = worker_env(broker, results)
    log = tmp_path / "worker.log"
    workers: list[subprocess.Popen] = []
    killed_at: list[str] = []
    try:
        with celery_using(broker, results):
            for number, position in enumerate(positions):
                stop_file = tmp_path / f"stopped-{number}"
                worker = start_worker(
                    {**env, "SEG_TEST_STOP_AT": position, "SEG_TEST_STOP_FILE": str(stop_file)}, log
                )
                workers.append(worker)
                if number == 0:
                    run = services.reclassification_dispatch(as_of=AS_OF, chunk_size=CHUNK)
                # after a kill: a new worker, nothing else; the killed task's message comes back
                wait_for(stop_file.exists, 60, f"the worker to reach {position}", worker=worker)
                assert stop_file.read_text().split()[0] == position

                os.kill(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
                assert worker.returncode == -signal.SIGKILL
                at_kill(position, run, reference)
                killed_at.append(position)

            workers.append(start_worker(env, log))  # no stop: the job completes
            wait_for(lambda: job_done(run.pk), 90, "the job to complete", interval=0.3, worker=workers[-1])
    finally:
        for process in workers:
            stop_worker(process)
        print(log.read_text(errors="replace")[-4000:])

    assert killed_at == positions
    state = job_state()
    assert ReclassificationRun.objects.get().pk == run.pk  # the killed run finished, no second run
    differing = {key: _diff(state[key], reference[key]) for key in reference if state[key] != reference[key]}
    assert state == reference, differing
    # no duplicates, and nothing left running
    assert ClassChange.objects.values("customer_id", "date").distinct().count() == ClassChange.objects.count()
    assert len(set(state["care_tasks"])) == len(state["care_tasks"])
    assert not ReclassificationRun.objects.unfinished().exists()


def test_a_killed_run_whose_message_is_lost_is_abandoned_by_the_next_nights_run(
    require_postgres, seg_redis, tmp_path
):
    """Redis lost the killed task's message too (restarted without persistence): nothing resumes
    the run that day. The next night's run marks it abandoned and drops its scratch rows; it
    is not left "running"."""
    import redis

    from segmentation.models import RunFigure, RunRevenue

    set_policy(revenue_method=ThresholdMethod.PARETO, revenue_value=Decimal("80"))
    build_book(BOOK)
    next_night = AS_OF + dt.timedelta(days=1)
    reference = services.reclassification_run(as_of=next_night, chunk_size=CHUNK)
    expected = snapshot(), reference.transitions
    reset_job_state()
    broker, results = seg_redis
    env = worker_env(broker, results)
    log, stop_file = tmp_path / "worker.log", tmp_path / "stopped"
    workers = [
        start_worker({**env, "SEG_TEST_STOP_AT": "between-chunks", "SEG_TEST_STOP_FILE": str(stop_file)}, log)
    ]
    try:
        with celery_using(broker, results):
            killed = services.reclassification_dispatch(as_of=AS_OF, chunk_size=CHUNK)
            wait_for(stop_file.exists, 60, "the worker to reach between-chunks", worker=workers[0])
            os.kill(workers[0].pid, signal.SIGKILL)
            workers[0].wait(timeout=10)
            for url in (broker, results):
                redis.Redis.from_url(url).flushdb()  # the message is gone
            assert RunRevenue.objects.filter(run=killed).exists()  # the killed run's scratch rows

            workers.append(start_worker(env, log))
            nightly = services.reclassification_dispatch(as_of=next_night, chunk_size=CHUNK)
            wait_for(
                lambda: job_done(nightly.pk), 90, "the next night's job", interval=0.3, worker=workers[-1]
            )
    finally:
        for process in workers:
            stop_worker(process)
        print(log.read_text(errors="replace")[-3000:])

    killed.refresh_from_db()
    nightly.refresh_from_db()
    assert (killed.status, nightly.status) == (RunStatus.ABANDONED, RunStatus.FINISHED)
    assert not ReclassificationRun.objects.unfinished().exists()
    assert not RunRevenue.objects.exists() and not RunFigure.objects.exists()
    # the killed run had only computed figures (phase 1), so the book is as after the next run alone
    assert (snapshot(), nightly.transitions) == expected
    assert ClassChange.objects.values("customer_id", "date").distinct().count() == ClassChange.objects.count()


def test_a_killed_pool_process_task_is_redelivered_at_once_without_a_restart(
    require_postgres, seg_redis, tmp_path
):
    """The prefork pool (production's default): the kernel kills one pool process (the OOM
    killer, say) in the middle of a chunk. The worker's main process sees the process lost and,
    with acks_late and reject_on_worker_lost, puts the task back at once; a new pool process runs
    it. Nothing is restarted, and the end state is that of an uninterrupted run."""
    set_policy(revenue_method=ThresholdMethod.PARETO, revenue_value=Decimal("80"))
    build_book(BOOK)
    reference = reference_state()
    broker, results = seg_redis
    env = {**worker_env(broker, results), "SEG_TEST_VISIBILITY_TIMEOUT": "3600"}  # no sweep: only the reject
    log, stop_file = tmp_path / "worker.log", tmp_path / "stopped"
    env.update(SEG_TEST_STOP_AT="first-chunk", SEG_TEST_STOP_FILE=str(stop_file))
    worker = start_worker(env, log, "--pool=prefork")  # the later --pool wins over --pool=solo
    try:
        with celery_using(broker, results):
            run = services.reclassification_dispatch(as_of=AS_OF, chunk_size=CHUNK)
            wait_for(stop_file.exists, 60, "a pool process to reach first-chunk", worker=worker)
            position, pid = stop_file.read_text().split()
            assert position == "first-chunk" and int(pid) != worker.pid  # a pool process, not the main one

            os.kill(int(pid), signal.SIGKILL)
            at_kill("first-chunk", run, reference)
            wait_for(lambda: job_done(run.pk), 90, "the job to complete", interval=0.3, worker=worker)
            assert worker.poll() is None  # the same worker, never restarted
    finally:
        stop_worker(worker)
        print(log.read_text(errors="replace")[-3000:])

    assert "WorkerLostError" in log.read_text(errors="replace")
    assert job_state() == reference
