"""Writes of the servicelevels app: planning care tasks, closing them, editing the catalogue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Activity, Customer

from .models import CareActivity, CareTask, Channel, CostSettings, WeeklyCapacity
from .planning import Chunk, Planner
from .selectors import firm_owner

# Customers per planning step: one transaction each; also the unit of the progress bar.
PLAN_CHUNK_IDS = 20_000
PLAN_CHUNK_LIST = 5_000

ACTIVITY_KIND_BY_CHANNEL = {
    Channel.MEETING: Activity.Kind.MEETING,
    Channel.PHONE: Activity.Kind.CALL,
    Channel.LETTER: Activity.Kind.LETTER,
    Channel.EMAIL: Activity.Kind.EMAIL,
}

Progress = Callable[[int, int], None]


@dataclass
class PlanResult:
    created: int = 0
    cancelled: int = 0
    channel_changes: int = 0
    customers: int = 0

    def __add__(self, other: PlanResult) -> PlanResult:
        return PlanResult(
            created=self.created + other.created,
            cancelled=self.cancelled + other.cancelled,
            channel_changes=self.channel_changes + other.channel_changes,
            customers=self.customers + other.customers,
        )


def _chunks(customer_ids: Iterable[int] | None) -> tuple[list[Chunk], list[int], int]:
    """The steps of a run, the customers each covers, and the total."""
    if customer_ids is not None:
        ids = sorted({int(i) for i in customer_ids})
        steps = [ids[i : i + PLAN_CHUNK_LIST] for i in range(0, len(ids), PLAN_CHUNK_LIST)]
        return [Chunk(ids=step) for step in steps], [len(step) for step in steps], len(ids)
    bounds = Customer.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return [], [], 0
    lo, hi = bounds["lo"], bounds["hi"] + 1
    chunks = [Chunk(lo=start, hi=min(start + PLAN_CHUNK_IDS, hi)) for start in range(lo, hi, PLAN_CHUNK_IDS)]
    return chunks, [c.hi - c.lo for c in chunks], hi - lo


def care_tasks_plan(
    *, as_of: dt.date, customer_ids: Iterable[int] | None = None, progress: Progress | None = None
) -> PlanResult:
    """Plan the care tasks of all customers (or the given ones) for the day `as_of`.

    Called after every reclassification run and after a class override. Set-based per chunk of
    customers (see `planning`): cancels open tasks the customer's class no longer has, plans the
    next occurrence of every activity of the class, and moves marketing calls and e-mails without
    consent to a letter. Idempotent: a second run for the same day creates nothing.
    `progress(done, total)` is called after every chunk (customer ids covered so far).
    """
    owner = firm_owner()
    planner = Planner(as_of=as_of, owner_id=owner.pk if owner else None, now=timezone.now())
    chunks, sizes, total = _chunks(customer_ids)
    result = PlanResult()
    done = 0
    for chunk, size in zip(chunks, sizes, strict=True):
        with transaction.atomic():
            cancelled, created, changed = planner.run_chunk(chunk)
        result += PlanResult(created=created, cancelled=cancelled, channel_changes=changed)
        done += size
        if progress is not None:
            progress(done, total)
    result.customers = total
    return result


def care_tasks_plan_enqueue(*, as_of: dt.date, customer_ids: Iterable[int] | None = None) -> None:
    """Queue the planning on the worker once the current transaction commits."""
    from .tasks import plan_care_tasks

    ids = sorted({int(i) for i in customer_ids}) if customer_ids is not None else None
    transaction.on_commit(lambda: plan_care_tasks.delay(as_of=as_of.isoformat(), customer_ids=ids))


# -- closing tasks ----------------------------------------------------------------------------


class TaskNotOpen(Exception):
    """The task is no longer open: done, skipped, or cancelled by reclassification."""

    def __init__(self, task: CareTask):
        self.task = task
        if task.status == CareTask.Status.CANCELLED:
            message = _(
                "This task was cancelled by a reclassification: the customer's class no longer "
                "includes it. Nothing was saved."
            )
        elif task.status == CareTask.Status.DONE:
            message = _("This task was already completed. Nothing was changed.")
        else:
            message = _("This task was already skipped. Nothing was changed.")
        self.message = message
        super().__init__(str(message))


class OutcomeRequired(Exception):
    message = _("Say why the task is skipped.")


@transaction.atomic
def care_task_complete(*, task_id: int, by, outcome: str, now: dt.datetime | None = None) -> CareTask:
    """Mark an open task done and log the contact on the customer (kind from the channel,
    subject = activity name, notes = outcome). A task that is not open raises TaskNotOpen and
    nothing is written: the conditional UPDATE makes a second click harmless."""
    now = now or timezone.now()
    outcome = outcome.strip()
    updated = CareTask.objects.filter(pk=task_id, status=CareTask.Status.OPEN).update(
        status=CareTask.Status.DONE, outcome=outcome, closed_at=now, closed_by=by
    )
    task = CareTask.objects.select_related("activity", "customer").get(pk=task_id)
    if not updated:
        raise TaskNotOpen(task)
    logged = Activity.objects.create(
        customer=task.customer,
        kind=ACTIVITY_KIND_BY_CHANNEL.get(task.channel, Activity.Kind.NOTE),
        occurred_at=now,
        subject=task.activity.name[:200],
        notes=outcome,
        user=by,
    )
    CareTask.objects.filter(pk=task_id).update(logged_activity=logged)
    task.logged_activity = logged
    return task


@transaction.atomic
def care_task_skip(*, task_id: int, by, outcome: str, now: dt.datetime | None = None) -> CareTask:
    """Mark an open task skipped, with the reason; no contact is logged."""
    outcome = outcome.strip()
    if not outcome:
        raise OutcomeRequired()
    updated = CareTask.objects.filter(pk=task_id, status=CareTask.Status.OPEN).update(
        status=CareTask.Status.SKIPPED, outcome=outcome, closed_at=now or timezone.now(), closed_by=by
    )
    task = CareTask.objects.select_related("activity", "customer").get(pk=task_id)
    if not updated:
        raise TaskNotOpen(task)
    return task


# -- catalogue --------------------------------------------------------------------------------


@transaction.atomic
def care_activity_set_minutes(*, activity: CareActivity, minutes: int) -> CareActivity:
    activity.minutes = minutes
    activity.full_clean()
    activity.save(update_fields=["minutes"])
    return activity


@transaction.atomic
def cost_settings_update(*, settings: CostSettings, data: dict) -> CostSettings:
    for name, value in data.items():
        setattr(settings, name, value)
    settings.full_clean()
    settings.save()
    return settings


@transaction.atomic
def weekly_capacity_set(*, user, minutes_per_week: int) -> WeeklyCapacity:
    capacity, _created = WeeklyCapacity.objects.update_or_create(
        user=user, defaults={"minutes_per_week": minutes_per_week}
    )
    return capacity
