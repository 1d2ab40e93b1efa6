"""Celery tasks of the reclassification job. Each loads ids/dates only and calls a service.

The schedule (02:00 Europe/Berlin) lives in django-celery-beat's tables, created by the data
migration ``0003_nightly_schedule`` and editable in the admin.
"""

from __future__ import annotations

import datetime as dt

from celery import chain, group, shared_task
from celery.canvas import Signature
from django.utils import timezone

from brokercrm.accounts.models import User

from . import services
from .models import ReclassificationRun, RunChunk

# Time limits (seconds). A chunk of services.CHUNK_SIZE customers takes a few seconds on
# PostgreSQL; the limits only stop a runaway statement.
CHUNK_SOFT_LIMIT, CHUNK_HARD_LIMIT = 10 * 60, 11 * 60
STEP_SOFT_LIMIT, STEP_HARD_LIMIT = 5 * 60, 6 * 60
REVENUE_SOFT_LIMIT, REVENUE_HARD_LIMIT = 30 * 60, 32 * 60  # one pass over the whole ledger


@shared_task(soft_time_limit=STEP_SOFT_LIMIT, time_limit=STEP_HARD_LIMIT, ignore_result=True)
def reclassify_nightly() -> int:
    """The nightly job: reclassify as of today (Europe/Berlin)."""
    run = services.reclassification_dispatch(
        as_of=timezone.localdate(), trigger=ReclassificationRun.Trigger.SCHEDULE
    )
    return run.pk


@shared_task(soft_time_limit=STEP_SOFT_LIMIT, time_limit=STEP_HARD_LIMIT, ignore_result=True)
def reclassify(
    as_of: str, user_id: int | None = None, trigger: str = ReclassificationRun.Trigger.OWNER
) -> int:
    by = User.objects.filter(pk=user_id).first() if user_id else None
    run = services.reclassification_dispatch(as_of=dt.date.fromisoformat(as_of), by=by, trigger=trigger)
    return run.pk


def _failing(failing_run_id: int, call, **kwargs):
    """Calls the service; on an error, marks the run failed (the next start resumes it)."""
    try:
        return call(**kwargs)
    except Exception as exc:
        services.reclassification_fail(run_id=failing_run_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(soft_time_limit=CHUNK_SOFT_LIMIT, time_limit=CHUNK_HARD_LIMIT)
def reclassify_chunk(run_id: int, chunk_id: int) -> bool:
    return _failing(run_id, services.reclassification_chunk_process, chunk_id=chunk_id)


@shared_task(soft_time_limit=REVENUE_SOFT_LIMIT, time_limit=REVENUE_HARD_LIMIT)
def reclassify_revenue(run_id: int) -> None:
    _failing(run_id, services.reclassification_revenue_compute, run_id=run_id)


@shared_task(soft_time_limit=STEP_SOFT_LIMIT, time_limit=STEP_HARD_LIMIT)
def reclassify_thresholds(run_id: int) -> None:
    _failing(run_id, services.reclassification_thresholds_resolve, run_id=run_id)


@shared_task(soft_time_limit=STEP_SOFT_LIMIT, time_limit=STEP_HARD_LIMIT)
def reclassify_finish(run_id: int) -> None:
    _failing(run_id, services.reclassification_finish, run_id=run_id)


@shared_task(soft_time_limit=STEP_SOFT_LIMIT, time_limit=STEP_HARD_LIMIT)
def reclassify_followup(run_id: int) -> None:
    """Care planning and the dashboard snapshot for the finished run (brokercrm.jobs)."""
    from brokercrm.jobs import after_reclassification

    after_reclassification(run_id=run_id)


def workflow(run_id: int, *, followup: bool = True) -> Signature:
    """The run's pending work as a canvas: revenue → [chord(phase-1 chunks) → thresholds →]
    chord(chunks) → finish → follow-up (unless ``followup=False``). Steps already done are left
    out or return at once (a resumed run)."""
    pending: dict[int, list[int]] = {}
    for chunk_id, phase in (
        RunChunk.objects.filter(run_id=run_id, done_at__isnull=True)
        .order_by("phase", "index")
        .values_list("id", "phase")
    ):
        pending.setdefault(phase, []).append(chunk_id)
    two_pass = ReclassificationRun.objects.filter(pk=run_id, two_pass=True).exists()
    steps: list[Signature] = [reclassify_revenue.si(run_id)]
    for phase in (RunChunk.Phase.FIGURES, RunChunk.Phase.CLASSIFY, RunChunk.Phase.SINGLE):
        if phase == RunChunk.Phase.CLASSIFY and two_pass:
            steps.append(reclassify_thresholds.si(run_id))
        if pending.get(phase):
            steps.append(group(reclassify_chunk.si(run_id, chunk_id) for chunk_id in pending[phase]))
    steps.append(reclassify_finish.si(run_id))
    if followup:
        steps.append(reclassify_followup.si(run_id))
    return chain(*steps)
