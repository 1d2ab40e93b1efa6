"""Closing tasks, the catalogue's rules, the task wrapper and the command."""

import datetime as dt
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import translation

from customers.models import Activity
from servicelevels import services, tasks
from servicelevels.models import (
    CareActivity,
    CareTask,
    Channel,
    CostSettings,
    Recurrence,
    ServiceLevel,
    Track,
)
from tests.factories import CustomerFactory

from .factories import CareActivityFactory, CareTaskFactory, level

pytestmark = pytest.mark.django_db


# -- closing tasks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "kind"),
    [
        (Channel.PHONE, Activity.Kind.CALL),
        (Channel.MEETING, Activity.Kind.MEETING),
        (Channel.LETTER, Activity.Kind.LETTER),
        (Channel.EMAIL, Activity.Kind.EMAIL),
    ],
)
def test_completing_logs_an_activity_on_the_customer(staff, channel, kind):
    task = CareTaskFactory(channel=channel, activity__name="Jahresgespräch")

    services.care_task_complete(task_id=task.pk, by=staff, outcome="  Termin vereinbart  ")

    task.refresh_from_db()
    assert task.status == CareTask.Status.DONE
    assert task.outcome == "Termin vereinbart"
    assert task.closed_by == staff
    assert task.closed_at is not None
    logged = task.logged_activity
    assert (logged.customer, logged.kind, logged.subject, logged.notes, logged.user) == (
        task.customer,
        kind,
        "Jahresgespräch",
        "Termin vereinbart",
        staff,
    )


def test_completing_twice_does_nothing_the_second_time(staff):
    task = CareTaskFactory()
    services.care_task_complete(task_id=task.pk, by=staff, outcome="erste Notiz")

    with translation.override("en"), pytest.raises(services.TaskNotOpen) as exc:
        services.care_task_complete(task_id=task.pk, by=staff, outcome="zweite Notiz")

    assert "already completed" in str(exc.value)
    task.refresh_from_db()
    assert task.outcome == "erste Notiz"
    assert Activity.objects.filter(customer=task.customer).count() == 1


def test_completing_a_cancelled_task_says_so_and_writes_nothing(staff):
    task = CareTaskFactory(status=CareTask.Status.CANCELLED, closed_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))

    with translation.override("en"), pytest.raises(services.TaskNotOpen) as exc:
        services.care_task_complete(task_id=task.pk, by=staff, outcome="Notiz")

    assert "cancelled by a reclassification" in str(exc.value)
    task.refresh_from_db()
    assert task.status == CareTask.Status.CANCELLED
    assert task.outcome == ""
    assert not Activity.objects.exists()


def test_a_failing_activity_log_leaves_the_task_open(staff, monkeypatch):
    task = CareTaskFactory()

    def broken(**kwargs):
        raise IntegrityError("disk full")

    monkeypatch.setattr(Activity.objects, "create", broken)
    with pytest.raises(IntegrityError):
        services.care_task_complete(task_id=task.pk, by=staff, outcome="x")

    task.refresh_from_db()
    assert task.status == CareTask.Status.OPEN  # nothing half-written


def test_skipping_needs_a_reason_and_logs_no_activity(staff):
    task = CareTaskFactory()

    with pytest.raises(services.OutcomeRequired):
        services.care_task_skip(task_id=task.pk, by=staff, outcome="  ")
    task.refresh_from_db()
    assert task.status == CareTask.Status.OPEN

    services.care_task_skip(task_id=task.pk, by=staff, outcome="Kunde verzogen")
    task.refresh_from_db()
    assert (task.status, task.outcome) == (CareTask.Status.SKIPPED, "Kunde verzogen")
    assert not Activity.objects.exists()
    with pytest.raises(services.TaskNotOpen):
        services.care_task_complete(task_id=task.pk, by=staff, outcome="x")


# -- catalogue rules --------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [0, -5])
def test_minutes_must_be_positive(empty_catalogue, minutes):
    activity = CareActivityFactory(minutes=10)

    with pytest.raises(ValidationError) as exc:
        services.care_activity_set_minutes(activity=activity, minutes=minutes)

    assert "minutes" in exc.value.message_dict
    activity.refresh_from_db()
    assert activity.minutes == 10


def test_the_database_rejects_bad_activities(empty_catalogue):
    good = {
        "service_level": level("B"),
        "name": "x",
        "recurrence": Recurrence.EVERY_N_MONTHS,
        "interval_months": 12,
        "channel": Channel.LETTER,
        "minutes": 5,
        "track": Track.CARE,
    }
    for bad in ({"minutes": 0}, {"interval_months": 0}, {"interval_months": None}, {"service_level": None}):
        with pytest.raises(IntegrityError), transaction.atomic():
            CareActivity.objects.create(**{**good, **bad})
    with pytest.raises(IntegrityError), transaction.atomic():
        CareActivity.objects.create(
            **{**good, "recurrence": Recurrence.BEFORE_MAIN_DUE, "weeks_before": None}
        )
    assert not CareActivity.objects.exists()


def test_hourly_rates_below_zero_are_rejected(db):
    settings = CostSettings.load()

    with pytest.raises(ValidationError) as exc:
        services.cost_settings_update(settings=settings, data={"owner_hourly_rate": -1})

    assert "owner_hourly_rate" in exc.value.message_dict
    assert CostSettings.load().owner_hourly_rate == 150
    with pytest.raises(IntegrityError), transaction.atomic():
        CostSettings.objects.filter(pk=1).update(staff_hourly_rate=-1)


# -- seeded data ------------------------------------------------------------------------------


def test_the_default_catalogue_follows_the_seed(db):
    levels = {level.segment: level for level in ServiceLevel.objects.prefetch_related("activities")}

    def tracks(segment):
        return {a.track for a in levels[segment].activities.all()}

    assert set(levels) == {"A", "B", "C", "O"}
    assert tracks("B") == tracks("C") == {Track.CARE}
    assert tracks("A") == tracks("O") == {Track.CARE, Track.POTENTIAL}
    care = {s: {a.name for a in levels[s].activities.all() if a.track == Track.CARE} for s in levels}
    assert care["A"] == care["B"]  # A gets B's care
    assert care["O"] == care["C"]  # O gets the basic package
    assert {a.recurrence for a in CareActivity.objects.all()} == set(Recurrence.values)
    assert CostSettings.load().owner_hourly_rate == 150


def test_staff_may_see_and_work_care_tasks_but_not_the_catalogue(staff):
    assert staff.has_perm("servicelevels.view_caretask")
    assert staff.has_perm("servicelevels.change_caretask")
    assert not staff.has_perm("servicelevels.delete_caretask")
    assert not staff.has_perm("servicelevels.change_careactivity")


# -- task wrapper, enqueue and command --------------------------------------------------------


def test_the_celery_task_plans_for_the_given_day(empty_catalogue):
    CareActivityFactory()
    customer = CustomerFactory(segment="B", segment_since=dt.date(2025, 4, 20))

    result = tasks.plan_care_tasks.apply(kwargs={"as_of": "2026-04-15", "customer_ids": [customer.pk]}).get()

    assert result["created"] == 1
    assert CareTask.objects.get().due_date == dt.date(2026, 4, 20)


def test_enqueue_waits_for_the_commit(empty_catalogue, django_capture_on_commit_callbacks, monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.plan_care_tasks, "delay", lambda **kw: calls.append(kw))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.care_tasks_plan_enqueue(as_of=dt.date(2026, 4, 15), customer_ids={3, 1})
    assert calls == []
    for callback in callbacks:
        callback()

    assert calls == [{"as_of": "2026-04-15", "customer_ids": [1, 3]}]


def test_plan_care_command(empty_catalogue):
    CareActivityFactory()
    CustomerFactory.create_batch(2, segment="B")
    out, err = StringIO(), StringIO()

    call_command("plan_care", "--as-of", "15.04.2026", stdout=out, stderr=err)
    call_command("plan_care", "--as-of", "2026-04-15", "--no-progress", stdout=out, stderr=err)

    assert CareTask.objects.count() == 2
    assert "2 tasks planned" in out.getvalue()
    assert "0 tasks planned" in out.getvalue()
    assert "plan care 15.04.2026" in err.getvalue()  # the progress bar


def test_plan_care_command_full_plans_everyone(empty_catalogue):
    CareActivityFactory()
    CustomerFactory.create_batch(2, segment="B")
    out = StringIO()

    call_command("plan_care", "--as-of", "2026-04-15", "--no-progress", stdout=out)
    call_command("plan_care", "--as-of", "2026-04-15", "--no-progress", stdout=out)
    call_command("plan_care", "--as-of", "2026-04-15", "--no-progress", "--full", stdout=out)

    lines = out.getvalue().splitlines()
    assert "full pass" in lines[0]
    assert "incremental: 0 customers" in lines[1]
    assert "full pass" in lines[2] and "0 tasks planned" in lines[2]


def test_plan_care_command_rejects_a_bad_date(db):
    with pytest.raises(CommandError, match="not a date"):
        call_command("plan_care", "--as-of", "31.02.2026")
