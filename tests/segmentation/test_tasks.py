"""Celery tasks, the nightly schedule and the management command (in-process, eager)."""

import datetime as dt
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from brokercrm.celery import app
from segmentation import tasks
from segmentation.models import ReclassificationRun, RunChunk, ThresholdMethod
from tests.segmentation.factories import build_book, set_policy
from tests.segmentation.state import snapshot

pytestmark = pytest.mark.django_db


def test_nightly_schedule_is_0200_berlin_and_editable_in_the_admin(admin_client):
    task = PeriodicTask.objects.select_related("crontab").get(task="segmentation.tasks.reclassify_nightly")

    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "2", "*")
    assert str(task.crontab.timezone) == "Europe/Berlin"
    assert task.task in app.tasks
    response = admin_client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    assert response.status_code == 200


def test_time_limits_are_set():
    for task in (
        tasks.reclassify_nightly,
        tasks.reclassify,
        tasks.reclassify_revenue,
        tasks.reclassify_chunk,
        tasks.reclassify_thresholds,
        tasks.reclassify_finish,
    ):
        assert task.time_limit and task.soft_time_limit and task.soft_time_limit < task.time_limit


def test_nightly_task_runs_in_process_without_a_broker():
    build_book(20)

    tasks.reclassify_nightly.delay()

    run = ReclassificationRun.objects.get()
    assert (run.status, run.as_of, run.trigger) == ("finished", timezone.localdate(), "schedule")


def test_workflow_is_chunks_then_thresholds_then_chunks_then_finish_then_followup():
    from segmentation import services

    set_policy(revenue_method=ThresholdMethod.QUANTILE, revenue_value=20)
    build_book(12)
    run = services.reclassification_start(as_of=dt.date(2026, 6, 30), chunk_size=5)
    first = run.chunks.get(phase=RunChunk.Phase.FIGURES, index=0)
    services.reclassification_chunk_process(chunk_id=first.pk)

    canvas = tasks.workflow(run.pk)

    pending = list(
        run.chunks.filter(done_at__isnull=True).order_by("phase", "index").values_list("id", flat=True)
    )
    assert _steps(canvas) == [
        "segmentation.tasks.reclassify_revenue",
        ("chunks", pending[:2]),
        "segmentation.tasks.reclassify_thresholds",
        ("chunks", pending[2:]),
        "segmentation.tasks.reclassify_finish",
        "segmentation.tasks.reclassify_followup",
    ]


def test_workflow_without_followup_ends_with_the_finish_task():
    """What the benchmark dispatches: the reclassification alone, no care planning after it."""
    from segmentation import services

    build_book(6)
    run = services.reclassification_start(as_of=dt.date(2026, 6, 30), chunk_size=5)

    steps = _steps(tasks.workflow(run.pk, followup=False))

    assert steps[0] == "segmentation.tasks.reclassify_revenue"
    assert steps[-1] == "segmentation.tasks.reclassify_finish"
    assert "segmentation.tasks.reclassify_followup" not in steps
    assert _steps(tasks.workflow(run.pk))[-1] == "segmentation.tasks.reclassify_followup"


def test_dispatch_without_followup_in_process_plans_no_care_tasks():
    from segmentation import services
    from servicelevels.models import CareTask, PlanningRun

    build_book(6)

    run = services.reclassification_dispatch(as_of=dt.date(2026, 6, 30), followup=False)

    assert run.status == "finished"
    assert not PlanningRun.objects.exists() and not CareTask.objects.exists()
    services.reclassification_dispatch(as_of=dt.date(2026, 7, 1))
    assert PlanningRun.objects.filter(as_of=dt.date(2026, 7, 1)).exists()


def _steps(sig) -> list:
    """The canvas as an ordered list: ("chunks", chunk ids) for a group/chord header, else task names."""
    from celery.canvas import _chain, _chord, group

    if isinstance(sig, _chord):
        return [("chunks", sorted(t.args[1] for t in sig.tasks)), *_steps(sig.body)]
    if isinstance(sig, _chain):
        return [step for task in sig.tasks for step in _steps(task)]
    if isinstance(sig, group):
        return [("chunks", sorted(t.args[1] for t in sig.tasks))]
    return [sig.name]


def test_failing_chunk_marks_the_run_failed_and_the_next_start_resumes_it():
    from segmentation import services

    build_book(6)
    run = services.reclassification_start(as_of=dt.date(2026, 6, 30), chunk_size=3)
    chunk = run.chunks.first()
    with (
        mock.patch.object(services, "reclassification_chunk_process", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        tasks.reclassify_chunk(run.pk, chunk.pk)

    run.refresh_from_db()
    assert run.status == "failed" and "disk full" in run.errors
    resumed = services.reclassification_run(as_of=dt.date(2026, 6, 30), chunk_size=3)
    assert resumed.pk == run.pk and resumed.status == "finished"


def test_step_tasks_call_their_services():
    from segmentation import services

    set_policy(revenue_method=ThresholdMethod.PARETO, revenue_value=80)
    build_book(6)
    run = services.reclassification_start(as_of=dt.date(2026, 6, 30), chunk_size=4)
    for chunk_id in run.chunks.order_by("phase", "index").values_list("id", flat=True):
        if chunk_id == run.chunks.get(phase=RunChunk.Phase.CLASSIFY, index=0).pk:
            tasks.reclassify_thresholds(run.pk)
        assert tasks.reclassify_chunk(run.pk, chunk_id) is True
    tasks.reclassify_finish(run.pk)

    run.refresh_from_db()
    assert run.status == "finished" and run.revenue_threshold is not None


def test_reclassify_command_with_progress_and_dry_run():
    build_book(15)
    before = snapshot()
    out, err = StringIO(), StringIO()

    call_command(
        "reclassify", "--as-of", "2026-06-30", "--dry-run", "--chunk-size", "4", stdout=out, stderr=err
    )

    assert snapshot() == before
    assert "Dry run" in out.getvalue() and "15 customers" in out.getvalue()
    assert "4/4" in err.getvalue()  # the tqdm bar: 4 chunks of 4

    call_command("reclassify", "--as-of", "30.06.2026", "--chunk-size", "4", stdout=out, stderr=err)
    run = ReclassificationRun.objects.exclude(status="dry_run").get()
    assert (run.as_of, run.status, run.trigger) == (dt.date(2026, 6, 30), "finished", "command")


def test_reclassify_command_refuses_a_bad_date():
    with pytest.raises(CommandError):
        call_command("reclassify", "--as-of", "31.02.2026")


def test_a_finished_run_plans_care_and_takes_the_dashboard_snapshot():
    from dashboards.models import RunSnapshot
    from segmentation import services
    from servicelevels.models import CareTask

    build_book(12)

    run = services.reclassification_run(as_of=dt.date(2026, 6, 30))

    assert RunSnapshot.objects.filter(run=run).exists()
    assert CareTask.objects.filter(customer__segment__in=["A", "B", "C", "O"]).exists()
