"""care_tasks_plan: every recurrence kind, class changes, consent, idempotence."""

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Customer
from segmentation.models import PotentialComponent
from servicelevels import services
from servicelevels.models import CareActivity, CareTask, Channel, Performer, Recurrence, Track
from servicelevels.services import care_tasks_plan
from tests.factories import (
    ContractFactory,
    CustomerFactory,
    MarketingConsentFactory,
    OwnerFactory,
    StaffFactory,
    line,
)

from .conftest import AS_OF
from .factories import CareActivityFactory, level

pytestmark = pytest.mark.django_db


def plan(as_of=AS_OF, **kwargs):
    return care_tasks_plan(as_of=as_of, **kwargs)


def tasks_of(customer, **filters):
    return list(CareTask.objects.filter(customer=customer, **filters).order_by("due_date", "id"))


def gap(customer, code: str, value: str, source_id: int = 1):
    return PotentialComponent.objects.create(
        customer=customer,
        kind="gap",
        source_id=source_id,
        line_of_business=line(code),
        value=Decimal(value),
        label=f"Lücke {code}",
    )


# -- recurrence kinds -------------------------------------------------------------------------


def test_on_entry_is_due_days_after_entering_the_class(empty_catalogue):
    activity = CareActivityFactory(recurrence=Recurrence.ON_ENTRY, interval_months=None, days_after=7)
    customer = CustomerFactory(segment="B", segment_since=dt.date(2026, 4, 10))

    plan()

    [task] = tasks_of(customer)
    assert task.activity == activity
    assert task.occurrence == dt.date(2026, 4, 10)
    assert task.due_date == dt.date(2026, 4, 17)
    assert task.status == CareTask.Status.OPEN
    assert task.planned_on == AS_OF


def test_on_entry_is_not_planned_for_long_standing_customers(empty_catalogue):
    CareActivityFactory(recurrence=Recurrence.ON_ENTRY, interval_months=None)
    customer = CustomerFactory(segment="B", segment_since=dt.date(2025, 1, 1))

    plan()

    assert tasks_of(customer) == []


@pytest.mark.parametrize(
    ("entered", "months", "due"),
    [
        (dt.date(2025, 1, 31), 6, dt.date(2026, 7, 28)),  # day 31 runs on the 28th
        (dt.date(2026, 4, 15), 12, dt.date(2027, 4, 15)),  # the first step is N months after entry
        (dt.date(2025, 4, 20), 12, dt.date(2026, 4, 20)),  # later this month
        (dt.date(2025, 4, 10), 12, dt.date(2027, 4, 10)),  # this month's step has passed
        (dt.date(2025, 4, 15), 12, dt.date(2026, 4, 15)),  # due today
        (dt.date(2020, 11, 3), 5, dt.date(2026, 9, 3)),  # 04/2026 step (03.04.) has passed
    ],
)
def test_every_n_months_plans_the_next_step_from_the_class_entry(empty_catalogue, entered, months, due):
    CareActivityFactory(recurrence=Recurrence.EVERY_N_MONTHS, interval_months=months)
    customer = CustomerFactory(segment="B", segment_since=entered)

    plan()

    [task] = tasks_of(customer)
    assert task.due_date == due
    assert task.occurrence == due


@pytest.mark.parametrize(
    ("birth", "as_of", "due"),
    [
        (dt.date(1980, 5, 17), AS_OF, dt.date(2026, 5, 17)),
        (dt.date(1980, 4, 1), AS_OF, dt.date(2027, 4, 1)),
        (dt.date(1980, 4, 15), AS_OF, dt.date(2026, 4, 15)),
        (dt.date(1984, 2, 29), AS_OF, dt.date(2027, 2, 28)),  # 29.02. in a common year
        (dt.date(1984, 2, 29), dt.date(2027, 3, 1), dt.date(2028, 2, 29)),
    ],
)
def test_birthday_is_the_next_birthday(empty_catalogue, birth, as_of, due):
    CareActivityFactory(recurrence=Recurrence.BIRTHDAY, interval_months=None)
    customer = CustomerFactory(segment="B", birth_date=birth)

    plan(as_of=as_of)

    [task] = tasks_of(customer)
    assert task.due_date == due


def test_birthday_needs_a_birth_date(empty_catalogue):
    CareActivityFactory(recurrence=Recurrence.BIRTHDAY, interval_months=None)
    customer = CustomerFactory(segment="B", birth_date=None)

    plan()

    assert tasks_of(customer) == []


def test_before_main_due_plans_per_active_contract(empty_catalogue):
    CareActivityFactory(recurrence=Recurrence.BEFORE_MAIN_DUE, interval_months=None, weeks_before=6)
    customer = CustomerFactory(segment="B")
    summer = ContractFactory(customer=customer, main_due_date=dt.date(2020, 6, 30))
    # Hauptfälligkeit 01.05. is less than 6 weeks away: next year's.
    spring = ContractFactory(customer=customer, main_due_date=dt.date(2020, 5, 1))
    ContractFactory(customer=customer, main_due_date=dt.date(2020, 7, 1), status="4")  # cancelled

    plan()

    by_contract = {t.contract_id: t for t in tasks_of(customer)}
    assert set(by_contract) == {summer.pk, spring.pk}
    assert by_contract[summer.pk].occurrence == dt.date(2026, 6, 30)
    assert by_contract[summer.pk].due_date == dt.date(2026, 5, 19)
    assert by_contract[spring.pk].occurrence == dt.date(2027, 5, 1)
    assert by_contract[spring.pk].due_date == dt.date(2027, 3, 20)
    assert by_contract[summer.pk].scope_key == summer.pk


def test_per_gap_plans_once_per_qualifying_gap(empty_catalogue):
    offer = CareActivityFactory(
        service_level=level("A"),
        recurrence=Recurrence.PER_GAP,
        interval_months=None,
        track=Track.POTENTIAL,
        days_after=21,
        min_gap_value=Decimal("100"),
    )
    customer = CustomerFactory(segment="A", segment_since=dt.date(2026, 1, 1))
    gap(customer, "040", "150.00", source_id=1)
    gap(customer, "050", "60.00", source_id=2)
    gap(customer, "050", "50.00", source_id=3)  # a second car: same Sparte, 110 € together
    gap(customer, "030", "20.00", source_id=4)

    plan()

    tasks = tasks_of(customer)
    assert {t.line_of_business.code for t in tasks} == {"040", "050"}
    assert all(t.activity == offer and t.due_date == dt.date(2026, 5, 6) for t in tasks)

    # once per gap: done, and the next day's run plans nothing again
    CareTask.objects.filter(customer=customer).update(
        status="done", closed_at=dt.datetime(2026, 4, 16, tzinfo=dt.UTC)
    )
    assert plan(as_of=AS_OF + dt.timedelta(days=1)).created == 0


def test_per_gap_biggest_gap_only(empty_catalogue):
    CareActivityFactory(
        service_level=level("O"), recurrence=Recurrence.PER_GAP, interval_months=None, biggest_gap_only=True
    )
    customer = CustomerFactory(segment="O", biggest_gap=line("050"))
    gap(customer, "040", "150.00", source_id=1)
    gap(customer, "050", "300.00", source_id=2)

    plan()

    [task] = tasks_of(customer)
    assert task.line_of_business.code == "050"


def test_a_gap_closed_cancels_its_open_task(empty_catalogue):
    CareActivityFactory(service_level=level("A"), recurrence=Recurrence.PER_GAP, interval_months=None)
    customer = CustomerFactory(segment="A")
    component = gap(customer, "040", "150.00")
    plan()
    component.delete()

    result = plan(as_of=AS_OF + dt.timedelta(days=1))

    assert result.cancelled == 1
    assert tasks_of(customer)[0].status == CareTask.Status.CANCELLED


# -- assignee ---------------------------------------------------------------------------------


def test_assignee_is_the_advisor_or_the_owner(empty_catalogue):
    owner = OwnerFactory()
    OwnerFactory(is_active=False)  # an inactive owner never gets work
    advisor = StaffFactory()
    staff_work = CareActivityFactory(performer=Performer.STAFF)
    owner_work = CareActivityFactory(performer=Performer.OWNER)
    advised = CustomerFactory(segment="B", advisor=advisor)
    unadvised = CustomerFactory(segment="B", advisor=None)

    plan()

    assert CareTask.objects.get(customer=advised, activity=staff_work).assignee == advisor
    assert CareTask.objects.get(customer=advised, activity=owner_work).assignee == owner
    assert CareTask.objects.get(customer=unadvised, activity=staff_work).assignee == owner


# -- consent ----------------------------------------------------------------------------------


def test_marketing_call_without_consent_falls_back_to_a_letter(empty_catalogue):
    CareActivityFactory(channel=Channel.PHONE, marketing=True)
    without = CustomerFactory(segment="B")
    MarketingConsentFactory(customer=without, channel="email")  # consent for another channel
    consented = CustomerFactory(segment="B")
    MarketingConsentFactory(customer=consented, channel="phone")
    withdrawn = CustomerFactory(segment="B")
    MarketingConsentFactory(customer=withdrawn, channel="phone", withdrawn_on=dt.date(2026, 1, 1))

    plan()

    [task] = tasks_of(without)
    assert task.channel == Channel.LETTER
    assert task.fallback_from == Channel.PHONE
    assert task.fallback_note  # said on the task
    assert tasks_of(consented)[0].channel == Channel.PHONE
    assert tasks_of(consented)[0].fallback_note == ""
    assert tasks_of(withdrawn)[0].channel == Channel.LETTER


def test_email_without_consent_falls_back_to_a_letter(empty_catalogue):
    CareActivityFactory(
        recurrence=Recurrence.BIRTHDAY, interval_months=None, channel=Channel.EMAIL, marketing=True
    )
    customer = CustomerFactory(segment="B")

    plan()

    [task] = tasks_of(customer)
    assert (task.channel, task.fallback_from) == (Channel.LETTER, Channel.EMAIL)


def test_a_call_that_is_not_marketing_needs_no_consent(empty_catalogue):
    CareActivityFactory(channel=Channel.PHONE, marketing=False)
    customer = CustomerFactory(segment="B")

    plan()

    assert tasks_of(customer)[0].channel == Channel.PHONE


def test_consent_withdrawn_after_planning_moves_the_open_task_to_a_letter(empty_catalogue):
    CareActivityFactory(channel=Channel.PHONE, marketing=True)
    customer = CustomerFactory(segment="B")
    consent = MarketingConsentFactory(customer=customer, channel="phone")
    plan()
    consent.withdrawn_on = AS_OF
    consent.save()

    result = plan(as_of=AS_OF + dt.timedelta(days=1))

    assert result.channel_changes == 1
    [task] = tasks_of(customer)
    assert (task.channel, task.fallback_from) == (Channel.LETTER, Channel.PHONE)

    # granted again: back to the phone
    consent.withdrawn_on = None
    consent.save()
    plan(as_of=AS_OF + dt.timedelta(days=2))
    task.refresh_from_db()
    assert (task.channel, task.fallback_from) == (Channel.PHONE, "")


# -- idempotence ------------------------------------------------------------------------------


def test_planning_twice_for_a_day_creates_nothing(empty_catalogue):
    for recurrence, extra in [
        (Recurrence.ON_ENTRY, {}),
        (Recurrence.EVERY_N_MONTHS, {"interval_months": 3}),
        (Recurrence.BIRTHDAY, {}),
        (Recurrence.BEFORE_MAIN_DUE, {"weeks_before": 4}),
        (Recurrence.PER_GAP, {}),
    ]:
        CareActivityFactory(recurrence=recurrence, **{"interval_months": None, **extra})
    customers = CustomerFactory.create_batch(3, segment="B", segment_since=AS_OF)
    for customer in customers:
        ContractFactory(customer=customer)
        gap(customer, "040", "100.00")

    first = plan()
    second = plan()

    assert first.created == 15
    assert second.created == 0
    assert second.cancelled == 0
    assert CareTask.objects.count() == 15


def test_a_done_task_is_not_planned_again_the_same_day(empty_catalogue):
    CareActivityFactory(recurrence=Recurrence.EVERY_N_MONTHS, interval_months=12)
    customer = CustomerFactory(segment="B", segment_since=dt.date(2025, 4, 20))
    plan()
    [task] = tasks_of(customer)
    services.care_task_complete(task_id=task.pk, by=None, outcome="erledigt")

    assert plan().created == 0
    # once the due date has passed, the next step is planned
    result = plan(as_of=dt.date(2026, 4, 21))
    assert result.created == 1
    assert tasks_of(customer, status="open")[0].due_date == dt.date(2027, 4, 20)


def test_an_open_task_blocks_the_next_occurrence_of_its_series(empty_catalogue):
    CareActivityFactory(recurrence=Recurrence.EVERY_N_MONTHS, interval_months=1)
    customer = CustomerFactory(segment="B", segment_since=dt.date(2026, 1, 5))
    plan()

    assert plan(as_of=dt.date(2026, 6, 1)).created == 0
    assert len(tasks_of(customer)) == 1


def test_the_unique_key_rejects_a_second_task_for_an_occurrence(empty_catalogue):
    from django.db import IntegrityError, transaction

    CareActivityFactory()
    customer = CustomerFactory(segment="B", segment_since=dt.date(2025, 4, 20))
    plan()
    [task] = tasks_of(customer)
    task.pk = None
    task.status = "done"
    task.closed_at = dt.datetime(2026, 4, 15, tzinfo=dt.UTC)
    with pytest.raises(IntegrityError), transaction.atomic():
        task.save()


# -- class changes ----------------------------------------------------------------------------


def _reclassify(customer: Customer, segment: str, since: dt.date) -> None:
    Customer.objects.filter(pk=customer.pk).update(segment=segment, segment_since=since)


def test_a_to_c_cancels_the_potential_work(db):
    """With the seeded default catalogue: A has potential work, C has none."""
    OwnerFactory()
    customer = CustomerFactory(segment="A", segment_since=dt.date(2026, 4, 1), biggest_gap=line("040"))
    ContractFactory(customer=customer, main_due_date=dt.date(2020, 10, 1))
    gap(customer, "040", "300.00")
    plan()
    potential = tasks_of(customer, activity__track=Track.POTENTIAL)
    assert len(potential) == 3  # needs analysis, offer, follow-up
    done = potential[0]
    services.care_task_complete(task_id=done.pk, by=None, outcome="Bedarf aufgenommen")

    _reclassify(customer, "C", dt.date(2026, 5, 1))
    result = plan(as_of=dt.date(2026, 5, 1))

    statuses = {t.pk: t.status for t in tasks_of(customer, activity__service_level__segment="A")}
    assert statuses.pop(done.pk) == CareTask.Status.DONE  # closed work stays
    assert set(statuses.values()) == {CareTask.Status.CANCELLED}
    assert result.cancelled == len(statuses)
    open_tasks = tasks_of(customer, status="open")
    assert open_tasks
    assert {t.activity.service_level.segment for t in open_tasks} == {"C"}
    assert not [t for t in open_tasks if t.activity.track == Track.POTENTIAL]


def test_c_to_o_plans_the_potential_programme(db):
    OwnerFactory()
    customer = CustomerFactory(segment="C", segment_since=dt.date(2025, 1, 1), biggest_gap=line("040"))
    gap(customer, "040", "300.00")
    plan()
    assert not tasks_of(customer, activity__track=Track.POTENTIAL)

    _reclassify(customer, "O", AS_OF)
    plan()

    programme = {t.activity.name for t in tasks_of(customer, status="open", activity__track=Track.POTENTIAL)}
    assert programme == {
        "Bedarfsanalyse-Telefonat",
        "Angebot für die größte Lücke",
        "Nachfassen zum Angebot",
        "Bedarfs-Check (halbjährlich)",
    }
    call = tasks_of(customer, activity__name="Bedarfsanalyse-Telefonat")[0]
    assert call.due_date == AS_OF + dt.timedelta(days=14)
    assert {t.activity.service_level.segment for t in tasks_of(customer, status="cancelled")} == {"C"}


def test_back_in_a_class_the_same_occurrence_is_planned_again(empty_catalogue):
    CareActivityFactory(service_level=level("A"), recurrence=Recurrence.BIRTHDAY, interval_months=None)
    customer = CustomerFactory(segment="A", birth_date=dt.date(1980, 5, 17))
    plan()
    _reclassify(customer, "C", AS_OF)
    plan()
    _reclassify(customer, "A", AS_OF)

    result = plan()

    assert result.created == 1
    assert len(tasks_of(customer, status="cancelled")) == 1
    assert tasks_of(customer, status="open")[0].due_date == dt.date(2026, 5, 17)


def test_former_customers_and_inactive_activities_lose_their_open_tasks(empty_catalogue):
    activity = CareActivityFactory()
    other = CareActivityFactory()
    leaving = CustomerFactory(segment="B")
    staying = CustomerFactory(segment="B")
    plan()
    Customer.objects.filter(pk=leaving.pk).update(status=Customer.Status.FORMER)
    CareActivity.objects.filter(pk=other.pk).update(active=False)

    result = plan(as_of=AS_OF + dt.timedelta(days=1))

    assert result.cancelled == 3
    assert [t.activity for t in tasks_of(staying, status="open")] == [activity]
    assert tasks_of(leaving, status="open") == []


def test_unclassified_customers_get_no_tasks(empty_catalogue):
    CareActivityFactory()
    customer = CustomerFactory(segment="")

    plan()

    assert tasks_of(customer) == []


def test_a_contract_no_longer_active_cancels_its_task(empty_catalogue):
    CareActivityFactory(recurrence=Recurrence.BEFORE_MAIN_DUE, interval_months=None, weeks_before=4)
    contract = ContractFactory(customer=CustomerFactory(segment="B"))
    plan()
    contract.status = "4"
    contract.save()

    assert plan(as_of=AS_OF + dt.timedelta(days=1)).cancelled == 1


# -- scope and progress -----------------------------------------------------------------------


def test_customer_ids_limit_the_run(empty_catalogue):
    CareActivityFactory()
    planned, untouched = CustomerFactory.create_batch(2, segment="B")

    result = plan(customer_ids=[planned.pk])

    assert result.created == 1
    assert tasks_of(untouched) == []


def test_chunks_and_progress(empty_catalogue, monkeypatch):
    monkeypatch.setattr(services, "PLAN_CHUNK_IDS", 2)
    CareActivityFactory()
    customers = CustomerFactory.create_batch(5, segment="B")
    calls = []

    result = plan(progress=lambda done, total: calls.append((done, total)))

    assert result.created == 5
    span = customers[-1].pk - customers[0].pk + 1
    assert calls[-1] == (span, span)
    assert len(calls) == (span + 1) // 2


def test_an_empty_book_plans_nothing(empty_catalogue):
    assert plan() == services.PlanResult()


# -- Art. 18 restriction ----------------------------------------------------------------------


def test_a_restricted_customer_gets_no_tasks_and_loses_the_open_ones(empty_catalogue):
    CareActivityFactory(service_level=level("B"))
    CareActivityFactory(service_level=level("B"), recurrence=Recurrence.BIRTHDAY, interval_months=None)
    restricted = CustomerFactory(segment="B", restricted_at=AS_OF)
    later = CustomerFactory(segment="B")
    plan()
    assert tasks_of(restricted) == []
    assert len(tasks_of(later, status="open")) == 2

    Customer.objects.filter(pk=later.pk).update(restricted_at=AS_OF + dt.timedelta(days=1))
    result = plan(as_of=AS_OF + dt.timedelta(days=1))

    assert not result.full  # the nightly, incremental run sees the restriction
    assert result.cancelled == 2 and result.created == 0
    assert {t.status for t in tasks_of(later)} == {CareTask.Status.CANCELLED}


def test_a_lifted_restriction_plans_the_customer_again(empty_catalogue):
    CareActivityFactory(service_level=level("B"))
    customer = CustomerFactory(segment="B", restricted_at=AS_OF)
    plan()
    Customer.objects.filter(pk=customer.pk).update(restricted_at=None)

    result = plan(as_of=AS_OF + dt.timedelta(days=1))

    assert result.created == 1
    assert len(tasks_of(customer, status="open")) == 1
