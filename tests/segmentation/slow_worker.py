"""Celery app for the kill/restart tests: the project's app, with test hooks set from the
environment (nothing in product code changes).

- SEG_TEST_CHUNK_DELAY (seconds): every chunk is slowed down, so a test can kill the worker
  part-way through a run.
- SEG_TEST_STOP_AT (a position, see STOPS) and SEG_TEST_STOP_FILE (a path): when the job
  reaches that position, the worker writes the position and its process id into the file
  and then waits there, inside whatever transaction is open at that point, until the test
  kills it (SIGKILL). So the kill happens at the same place every time, not where a sleep
  happened to end.
- SEG_TEST_VISIBILITY_TIMEOUT (seconds): Redis redelivers a message that a worker took but
  never acknowledged after this long (production: settings.CELERY_BROKER_TRANSPORT_OPTIONS).
  A worker sweeps for such messages when it starts and then, here, every second: kombu's
  default sweeps on every tenth 10-second tick (100 s), so a message taken by the killed worker
  less than the timeout before the new worker's first sweep came back only after 100 s (seen
  in CI: the test's 90 s wait ran out).

Started as `python -m celery -A tests.segmentation.slow_worker worker ...`."""

import os
import time
from contextlib import contextmanager

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokercrm.settings")
django.setup()

from django.db import connection  # noqa: E402

from brokercrm.celery import app  # noqa: E402
from dashboards import services as dashboards_services  # noqa: E402
from segmentation import services  # noqa: E402
from segmentation.models import RunChunk  # noqa: E402
from servicelevels import services as servicelevels_services  # noqa: E402

DELAY = float(os.environ.get("SEG_TEST_CHUNK_DELAY", "0"))
STOP_AT = os.environ.get("SEG_TEST_STOP_AT", "")
STOP_FILE = os.environ.get("SEG_TEST_STOP_FILE", "")

# Where the job can be stopped, and the statement that is about to run when it stops (quotes
# ignored; None: between two statements, after the step committed, before the task is acked).
STOPS = {
    "first-chunk": "UPDATE segmentation_runchunk",  # the chunk's rows written, not committed
    "between-chunks": None,  # the second chunk committed, its task not yet acknowledged
    "last-chunk": "UPDATE segmentation_runchunk",
    "finish": "UPDATE segmentation_reclassificationrun",  # the run's totals, not committed
    "care-planning": "INSERT",  # the first care tasks being written
    "snapshot": "INSERT INTO dashboards_classsnapshot",  # its run row written, not committed
}
if STOP_AT and STOP_AT not in STOPS:
    raise SystemExit(f"SEG_TEST_STOP_AT={STOP_AT!r} is not one of {sorted(STOPS)}")

if os.environ.get("SEG_TEST_VISIBILITY_TIMEOUT"):
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "visibility_timeout": float(os.environ["SEG_TEST_VISIBILITY_TIMEOUT"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }


def stop_here(position: str) -> None:
    """Tell the test where we are (position, then this process's id), then wait to be killed.
    Only once: when the file exists already (a prefork worker's new pool process, given the
    killed one's task again), go on."""
    try:
        fd = os.open(STOP_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as stop_file:
        stop_file.write(f"{position}\n{os.getpid()}\n")
    while True:
        time.sleep(1)


@contextmanager
def stopping_before(position: str):
    """Inside the block, stop just before the position's statement runs."""
    prefix = STOPS[position].upper()

    def wrapper(execute, sql, params, many, context):
        if sql.lstrip().upper().replace('"', "").startswith(prefix):
            stop_here(position)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


def _wrap(module, name: str, position: str):
    original = getattr(module, name)

    def wrapped(**kwargs):
        if position != STOP_AT:
            return original(**kwargs)
        with stopping_before(position):
            return original(**kwargs)

    setattr(module, name, wrapped)


_chunk_process = services.reclassification_chunk_process
_chunks_done_here = 0


def _chunk(*, chunk_id: int) -> bool:
    global _chunks_done_here
    time.sleep(DELAY)
    position = None
    if STOP_AT == "first-chunk" and _chunks_done_here == 0:
        position = STOP_AT
    elif STOP_AT == "last-chunk":
        chunk = RunChunk.objects.get(pk=chunk_id)
        pending = RunChunk.objects.filter(run_id=chunk.run_id, done_at__isnull=True)
        if chunk.done_at is None and pending.count() == 1:
            position = STOP_AT
    if position:
        with stopping_before(position):
            return _chunk_process(chunk_id=chunk_id)
    done = _chunk_process(chunk_id=chunk_id)
    _chunks_done_here += 1
    if STOP_AT == "between-chunks" and _chunks_done_here == 2:
        stop_here(STOP_AT)
    return done


services.reclassification_chunk_process = _chunk
_wrap(services, "reclassification_finish", "finish")
_wrap(servicelevels_services, "care_tasks_plan", "care-planning")
_wrap(dashboards_services, "snapshot_take", "snapshot")

__all__ = ["app"]
