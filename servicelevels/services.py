"""Writes of the servicelevels app: planning care tasks, closing them, editing the catalogue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from brokercrm.parallel import run_each
from customers.models import Activity, Customer

from .models import CareActivity, CareTask, Channel, CostSettings, PlanningRun, WeeklyCapacity
from .planning import (
    Chunk,
    Planner,
    catalogue_digest,
    dirty_customer_ids,
    last_component_id,
    planning_state_prune,
)
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
    full: bool = True

    def __add__(self, other: PlanResult) -> PlanResult:
        return PlanResult(
            created=self.created + other.created,
            cancelled=self.cancelled + other.cancelled,
            channel_changes=self.channel_changes + other.channel_changes,
            customers=self.customers + other.customers,
            full=self.full,
        )


def _list_chunks(customer_ids: Iterable[int]) -> tuple[list[Chunk], list[int], int]:
    ids = sorted({int(i) for i in customer_ids})
    steps = [ids[i : i + PLAN_CHUNK_LIST] for i in range(0, len(ids), PLAN_CHUNK_LIST)]
    return [Chunk(ids=step) for step in steps], [len(step) for step in steps], len(ids)


def _range_chunks() -> tuple[list[Chunk], list[int], int]:
    """The steps of a full run, the customer ids each covers, and the total."""
    bounds = Customer.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return [], [], 0
    lo, hi = bounds["lo"], bounds["hi"] + 1
    chunks = [Chunk(lo=start, hi=min(start + PLAN_CHUNK_IDS, hi)) for start in range(lo, hi, PLAN_CHUNK_IDS)]
    return chunks, [c.hi - c.lo for c in chunks], hi - lo


def care_tasks_plan(
    *,
    as_of: dt.date,
    customer_ids: Iterable[int] | None = None,
    progress: Progress | None = None,
    full: bool = False,
) -> PlanResult:
    """Plan the care tasks of the book (or of the given customers) for the day `as_of`.

    Called after every reclassification run and after a class override. Set-based per chunk of
    customers (see `planning`): cancels open tasks the customer's class no longer has (and all
    open tasks of customers under an Art. 18 restriction), plans the next occurrence of every
    activity of the class, and moves marketing calls and e-mails without consent to a letter.
    Idempotent: a second run for the same day creates nothing.

    A run over the book is incremental: it plans only the customers whose planning inputs
    changed since the start of the last finished run (`planning.dirty_customers_sql`) — for
    the others a full pass would change nothing, so the result is the same. It is full when
    asked (`full=True`), on the first run, after a catalogue change, or for an earlier day.
    `progress(done, total)` is called after every chunk (customers or customer ids so far).
    """
    owner = firm_owner()
    now = timezone.now()
    planner = Planner(as_of=as_of, owner_id=owner.pk if owner else None, now=now)
    run = None
    if customer_ids is not None:
        chunks, sizes, total = _list_chunks(customer_ids)
        is_full = False
    else:
        catalogue = catalogue_digest()
        last = PlanningRun.objects.filter(finished_at__isnull=False).order_by("-started_at", "-id").first()
        is_full = full or last is None or last.catalogue != catalogue or as_of < last.as_of
        run = PlanningRun.objects.create(
            as_of=as_of, started_at=now, full=is_full, catalogue=catalogue, component_id=last_component_id()
        )
        if is_full:
            chunks, sizes, total = _range_chunks()
        else:
            ids = dirty_customer_ids(as_of=as_of, since=last.started_at, component_id=last.component_id)
            chunks, sizes, total = _list_chunks(ids)
    result = PlanResult(full=is_full)
    for cancelled, created, changed in _run_chunks(planner, chunks, sizes, total, progress):
        result += PlanResult(created=created, cancelled=cancelled, channel_changes=changed)
    result.customers = total
    if run is not None:
        if is_full:
            # Rows of deleted customers (the state has no database foreign key).
            planning_state_prune()
        run.finished_at = timezone.now()
        run.customers, run.created, run.cancelled = total, result.created, result.cancelled
        run.save(update_fields=["finished_at", "customers", "created", "cancelled"])
    return result


def _plan_chunk(planner: Planner, chunk: Chunk) -> tuple[int, int, int]:
    with transaction.atomic():
        return planner.run_chunk(chunk)


def _run_chunks(
    planner: Planner, chunks: list[Chunk], sizes: list[int], total: int, progress: Progress | None
):
    """Yield (cancelled, created, channel changes) per chunk, each chunk in a transaction of its
    own; `progress` is called from the caller's thread as chunks finish. When a chunk fails, the
    chunks not started yet are dropped and the error is raised (the chunks done are committed;
    the run is not marked finished, so the next run plans from the last finished one). On
    PostgreSQL the chunks run on several connections at once (`brokercrm.parallel`): they hold
    disjoint customers, so no two touch the same task or state row."""
    done = 0
    for (_chunk, size), counts in run_each(
        lambda item: _plan_chunk(planner, item[0]),
        list(zip(chunks, sizes, strict=True)),
        thread_name_prefix="care-plan",
    ):
        yield counts
        done += size
        if progress is not None:
            progress(done, total)


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


# -- consent ----------------------------------------------------------------------------------


def care_tasks_follow_consent(*, customer_id: int, channel: str, in_force: bool) -> int:
    """At once what planning does on its next run (`planning.Planner.consent_statements`): when
    the customer's consent for `channel` is withdrawn, its open marketing tasks on that channel
    become letters (`fallback_from` keeps the planned channel, and the task shows the note "no
    marketing consent … send a letter instead"); when it is in force again, such letters go back
    to the planned channel. One UPDATE; returns the number of tasks changed."""
    open_tasks = CareTask.objects.filter(customer_id=customer_id, status=CareTask.Status.OPEN)
    if channel not in (Channel.PHONE, Channel.EMAIL):  # models.CONSENT_CHANNELS
        return 0
    if in_force:
        return open_tasks.filter(fallback_from=channel).update(channel=channel, fallback_from="")
    return open_tasks.filter(channel=channel, activity__marketing=True).update(
        fallback_from=channel, channel=Channel.LETTER
    )


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
