"""Incremental planning: the nightly run plans only the customers whose inputs changed, and
leaves exactly the tasks a full pass leaves (random books and changes, SQLite and PostgreSQL)."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import transaction

from customers.models import Contract, Customer, MarketingConsent
from segmentation.models import PotentialComponent
from servicelevels import services
from servicelevels.models import CareActivity, CareTask, PlanningRun, PlanningState, Recurrence
from servicelevels.services import care_task_complete, care_task_skip, care_tasks_plan
from tests.factories import ContractFactory, CustomerFactory, MarketingConsentFactory, StaffFactory, line

from .conftest import AS_OF
from .factories import CareActivityFactory, level

pytestmark = pytest.mark.django_db

GAP_LINES = ("030", "040", "050")
TASK_COLUMNS = (
    "customer_id",
    "activity_id",
    "scope_key",
    "occurrence",
    "due_date",
    "status",
    "channel",
    "fallback_from",
    "assignee_id",
    "contract_id",
    "line_of_business_id",
    "planned_on",
    "outcome",
)


def snapshot() -> list[tuple]:
    """Every task as planning leaves it (ids and timestamps aside: two runs number them apart)."""
    return sorted(CareTask.objects.values_list(*TASK_COLUMNS), key=repr)


def full_pass_result(day: dt.date) -> list[tuple]:
    """The tasks a full pass for `day` would leave, rolled back."""
    with transaction.atomic():
        care_tasks_plan(as_of=day, full=True)
        tasks = snapshot()
        transaction.set_rollback(True)
    return tasks


def random_gap(rng: random.Random, customer: Customer, source_id: int) -> PotentialComponent:
    return PotentialComponent.objects.create(
        customer=customer,
        kind="gap",
        source_id=source_id,
        line_of_business=line(rng.choice(GAP_LINES)),
        value=Decimal(rng.choice(["40.00", "80.00", "120.00", "300.00"])),
        label="Lücke",
    )


def random_book(rng: random.Random, size: int) -> list[Customer]:
    advisors = [StaffFactory(), StaffFactory()]
    customers = []
    for _ in range(size):
        customer = CustomerFactory(
            segment=rng.choice("ABCO"),
            segment_since=rng.choice([None, AS_OF - dt.timedelta(days=rng.randint(0, 700))]),
            birth_date=rng.choice(
                [None, dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))]
            ),
            advisor=rng.choice([None, *advisors]),
            biggest_gap=rng.choice([None, line(rng.choice(GAP_LINES))]),
        )
        for _ in range(rng.randint(0, 3)):
            ContractFactory(
                customer=customer,
                main_due_date=dt.date(2022, rng.randint(1, 12), rng.randint(1, 28)),
                end_date=rng.choice([None, None, AS_OF + dt.timedelta(days=rng.randint(1, 200))]),
            )
        for channel in rng.sample(["phone", "email"], rng.randint(0, 2)):
            MarketingConsentFactory(
                customer=customer,
                channel=channel,
                granted_on=AS_OF - dt.timedelta(days=rng.randint(-60, 400)),
            )
        for source_id in range(rng.randint(0, 3)):
            random_gap(rng, customer, source_id)
        customers.append(customer)
    return customers


def random_changes(rng: random.Random, customers: list[Customer], day: dt.date, by) -> None:
    """A day's worth of changes, each through the path the app takes for it."""
    for customer in rng.sample(customers, 4):  # the job moves classes set-based
        Customer.objects.filter(pk=customer.pk).update(segment=rng.choice("ABCO"), segment_since=day)
    for customer in rng.sample(customers, 2):
        Customer.objects.filter(pk=customer.pk).update(biggest_gap=line(rng.choice(GAP_LINES)))
    open_tasks = list(CareTask.objects.open().values_list("id", flat=True))
    for task_id in rng.sample(open_tasks, min(len(open_tasks), 8)):
        if rng.random() < 0.7:
            care_task_complete(task_id=task_id, by=by, outcome="erledigt")
        else:
            care_task_skip(task_id=task_id, by=by, outcome="kein Bedarf")
    contracts = list(Contract.objects.filter(customer__in=customers))
    for contract in rng.sample(contracts, min(len(contracts), 3)):
        action = rng.choice(["end", "status", "due", "delete"])
        if action == "end":
            contract.end_date = day + dt.timedelta(days=rng.randint(0, 30))
        elif action == "status":
            contract.status = rng.choice(["1", "2", "4"])
        elif action == "due":
            contract.main_due_date = dt.date(2022, rng.randint(1, 12), rng.randint(1, 28))
        if action == "delete":
            contract.delete()
        else:
            contract.save()
    ContractFactory(customer=rng.choice(customers), main_due_date=dt.date(2022, rng.randint(1, 12), 1))
    consents = list(MarketingConsent.objects.filter(customer__in=customers))
    for consent in rng.sample(consents, min(len(consents), 2)):
        if rng.random() < 0.3:
            consent.delete()
        else:
            consent.withdrawn_on = None if consent.withdrawn_on else day
            consent.save()
    customer = rng.choice(customers)
    for channel in ("phone", "email"):
        if not MarketingConsent.objects.filter(customer=customer, channel=channel).exists():
            MarketingConsentFactory(customer=customer, channel=channel, granted_on=day + dt.timedelta(days=2))
            break
    components = list(PotentialComponent.objects.filter(kind="gap"))
    for component in rng.sample(components, min(len(components), 3)):
        component.delete()  # the job deletes a gap row that changed and writes it anew
    for customer in rng.sample(customers, 2):
        random_gap(rng, customer, rng.randint(10, 10_000))
    customer = rng.choice(customers)  # Art. 18 restriction set or lifted
    Customer.objects.filter(pk=customer.pk).update(restricted_at=None if customer.restricted_at else day)
    customer = rng.choice(customers)
    Customer.objects.filter(pk=customer.pk).update(
        status=rng.choice([Customer.Status.ACTIVE, Customer.Status.FORMER]),
        birth_date=dt.date(1970, rng.randint(1, 12), rng.randint(1, 28)),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_planning_equals_a_full_pass(seed):
    rng = random.Random(seed)
    customers = random_book(rng, 30)
    by = StaffFactory()
    day = AS_OF

    first = care_tasks_plan(as_of=day)
    assert first.full and first.created > 0

    incremental_runs = 0
    for _night in range(8):
        random_changes(rng, customers, day, by)
        day += dt.timedelta(days=rng.choice([0, 1, 1, 3, 17, 45]))
        expected = full_pass_result(day)
        result = care_tasks_plan(as_of=day)
        assert not result.full
        incremental_runs += 1
        assert snapshot() == expected, f"night {_night}, {day}"
        # and a full pass finds nothing left to do
        assert full_pass_result(day) == expected
    assert incremental_runs == 8


def test_a_quiet_night_plans_no_one(db):
    CustomerFactory.create_batch(3, segment="B", segment_since=AS_OF - dt.timedelta(days=10))
    care_tasks_plan(as_of=AS_OF)

    result = care_tasks_plan(as_of=AS_OF + dt.timedelta(days=1))

    assert not result.full
    assert result.customers == 0
    assert result.created == result.cancelled == 0


def test_only_changed_customers_are_planned_again(db):
    moved, *others = CustomerFactory.create_batch(4, segment="B", segment_since=AS_OF - dt.timedelta(days=10))
    care_tasks_plan(as_of=AS_OF)
    Customer.objects.filter(pk=moved.pk).update(segment="O", segment_since=AS_OF)

    result = care_tasks_plan(as_of=AS_OF + dt.timedelta(days=1))

    assert result.customers == 1
    assert result.cancelled > 0
    assert not CareTask.objects.open().filter(customer=moved, activity__service_level__segment="B").exists()
    assert CareTask.objects.open().filter(customer=moved, activity__service_level__segment="O").exists()
    assert PlanningState.objects.get(customer=moved).segment == "O"


def test_a_task_done_ahead_of_its_date_wakes_the_customer_after_it(empty_catalogue):
    CareActivityFactory(service_level=level("B"), recurrence=Recurrence.EVERY_N_MONTHS, interval_months=6)
    customer = CustomerFactory(segment="B", segment_since=dt.date(2025, 10, 20))
    care_tasks_plan(as_of=AS_OF)
    [task] = CareTask.objects.filter(customer=customer)
    assert task.due_date == dt.date(2026, 4, 20)
    care_task_complete(task_id=task.pk, by=StaffFactory(), outcome="vorgezogen")

    # the done step still blocks the series until its date has passed …
    assert care_tasks_plan(as_of=dt.date(2026, 4, 18)).created == 0
    assert care_tasks_plan(as_of=dt.date(2026, 4, 20)).created == 0
    assert PlanningState.objects.get(customer=customer).wake_on == dt.date(2026, 4, 21)
    # … then the next step is planned, without any change to the customer
    result = care_tasks_plan(as_of=dt.date(2026, 4, 21))
    assert not result.full and result.customers == 1 and result.created == 1
    assert CareTask.objects.open().get(customer=customer).due_date == dt.date(2026, 10, 20)


def test_a_contract_ending_cancels_its_task_on_the_day(empty_catalogue):
    CareActivityFactory(
        service_level=level("B"), recurrence=Recurrence.BEFORE_MAIN_DUE, interval_months=None, weeks_before=4
    )
    customer = CustomerFactory(segment="B", segment_since=dt.date(2025, 1, 1))
    ContractFactory(customer=customer, main_due_date=dt.date(2022, 9, 1), end_date=dt.date(2026, 5, 1))
    care_tasks_plan(as_of=AS_OF)
    assert CareTask.objects.open().filter(customer=customer).count() == 1

    assert care_tasks_plan(as_of=dt.date(2026, 4, 30)).cancelled == 0
    result = care_tasks_plan(as_of=dt.date(2026, 5, 1))

    assert not result.full and result.cancelled == 1
    assert not CareTask.objects.open().filter(customer=customer).exists()


def test_a_catalogue_change_plans_everyone(empty_catalogue):
    activity = CareActivityFactory(service_level=level("B"))
    CustomerFactory.create_batch(2, segment="B")
    care_tasks_plan(as_of=AS_OF)
    CareActivity.objects.filter(pk=activity.pk).update(active=False)

    result = care_tasks_plan(as_of=AS_OF + dt.timedelta(days=1))

    assert result.full
    assert result.cancelled == 2


def test_an_earlier_day_and_a_request_plan_everyone(db):
    CustomerFactory(segment="C")
    care_tasks_plan(as_of=AS_OF)

    assert care_tasks_plan(as_of=AS_OF - dt.timedelta(days=1)).full
    assert care_tasks_plan(as_of=AS_OF, full=True).full
    assert not care_tasks_plan(as_of=AS_OF).full
    assert PlanningRun.objects.filter(finished_at__isnull=False).count() == 4


def test_a_targeted_run_does_not_move_the_watermark(db):
    customer = CustomerFactory(segment="C")
    care_tasks_plan(as_of=AS_OF)
    runs = PlanningRun.objects.count()
    Customer.objects.filter(pk=customer.pk).update(segment="B", segment_since=AS_OF)

    result = care_tasks_plan(as_of=AS_OF, customer_ids=[customer.pk])

    assert not result.full and result.customers == 1
    assert PlanningRun.objects.count() == runs


def test_planning_state_rows_of_deleted_customers_go_with_the_next_full_pass(db):
    gone = CustomerFactory(segment="C")
    CustomerFactory(segment="C")
    care_tasks_plan(as_of=AS_OF)
    Customer.objects.filter(pk=gone.pk).delete()

    care_tasks_plan(as_of=AS_OF, full=True)

    assert not PlanningState.objects.filter(customer_id=gone.pk).exists()
    assert PlanningState.objects.count() == 1


def test_chunks_of_an_incremental_run(db, monkeypatch):
    monkeypatch.setattr(services, "PLAN_CHUNK_LIST", 2)
    customers = CustomerFactory.create_batch(5, segment="C")
    care_tasks_plan(as_of=AS_OF)
    Customer.objects.filter(pk__in=[c.pk for c in customers]).update(segment="B", segment_since=AS_OF)
    calls = []

    result = care_tasks_plan(as_of=AS_OF, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(2, 5), (4, 5), (5, 5)]
    assert result.customers == 5
