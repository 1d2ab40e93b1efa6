"""brokercrm.beat.CatchUpDatabaseScheduler in this process, without a broker: a due entry whose
message cannot be sent stays due and is sent on a later tick; a crontab entry whose hour is far
from now is still read (stock django-celery-beat leaves it out, so a missed 02:00 run would never
be caught up after 04:59). The end-to-end case, with Redis really down and back, is
tests/project/test_faults_redis.py."""

import datetime as dt

import pytest
from celery.beat import SchedulingError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks
from django_celery_beat.schedulers import DatabaseScheduler

from brokercrm.beat import CatchUpDatabaseScheduler
from brokercrm.celery import app

NIGHTLY = "Nightly reclassification"
pytestmark = pytest.mark.django_db


def _due_nightly() -> PeriodicTask:
    PeriodicTask.objects.filter(name=NIGHTLY).update(
        last_run_at=timezone.now() - dt.timedelta(days=2), total_run_count=5, enabled=True
    )
    PeriodicTasks.update_changed()
    return PeriodicTask.objects.get(name=NIGHTLY)


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    # The scheduler's sync() closes "old" database connections first, as beat does between
    # ticks; here that would close the test's own connection inside its transaction.
    monkeypatch.setattr("django_celery_beat.schedulers.close_old_connections", lambda: None)


def _scheduler(cls):
    scheduler = cls(app=app, lazy=True)
    scheduler.__dict__["producer"] = None  # the cached producer: no broker connection here
    return scheduler


def test_a_due_entry_that_cannot_be_sent_stays_due_and_is_sent_later():
    before = _due_nightly()
    scheduler = _scheduler(CatchUpDatabaseScheduler)
    sent: list[str] = []

    def broker_down(entry, producer=None, advance=True, **kwargs):
        raise SchedulingError("Couldn't apply scheduled task: Error 111 connecting to redis")

    def broker_up(entry, producer=None, advance=True, **kwargs):
        sent.append(entry.name)

    scheduler.apply_async = broker_down
    for _ in range(3):  # Redis down for three ticks
        scheduler.tick()
    entry = scheduler.schedule[NIGHTLY]
    assert entry.is_due().is_due
    scheduler.sync()
    row = PeriodicTask.objects.get(name=NIGHTLY)
    assert (row.last_run_at, row.total_run_count) == (before.last_run_at, 5)  # not counted as run

    scheduler.apply_async = broker_up  # Redis back
    scheduler.tick()
    scheduler.tick()
    scheduler.sync()
    assert sent == [NIGHTLY]  # once
    assert PeriodicTask.objects.get(name=NIGHTLY).total_run_count == 6
    assert not _scheduler(CatchUpDatabaseScheduler).schedule[NIGHTLY].is_due().is_due


def test_stock_scheduler_would_skip_the_entry_until_its_next_time():
    """The control: without brokercrm.beat the failed send counts as the night's run."""
    before = _due_nightly()

    class AllEntries(DatabaseScheduler):  # stock, but reading every entry (see the next test)
        enabled_models_qs = CatchUpDatabaseScheduler.enabled_models_qs

    scheduler = _scheduler(AllEntries)

    def broker_down(entry, producer=None, advance=True, **kwargs):
        raise SchedulingError("Couldn't apply scheduled task: Error 111 connecting to redis")

    sent: list[str] = []

    def broker_up(entry, producer=None, advance=True, **kwargs):
        sent.append(entry.name)

    scheduler.apply_async = broker_down
    scheduler.tick()
    scheduler.sync()
    row = PeriodicTask.objects.get(name=NIGHTLY)
    assert row.last_run_at > before.last_run_at and row.total_run_count == 6  # counted as run
    scheduler.apply_async = broker_up  # Redis back: nothing is sent until the next night
    scheduler.tick()
    assert sent == []
    assert not _scheduler(AllEntries).schedule[NIGHTLY].is_due().is_due


def test_the_nightly_entry_is_read_at_any_hour():
    _due_nightly()
    names = set(
        CatchUpDatabaseScheduler(app=app, lazy=True).enabled_models_qs().values_list("name", flat=True)
    )
    assert NIGHTLY in names
