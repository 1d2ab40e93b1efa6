"""Two sessions at once: editing the same customer or contract — the second save gets a clear
conflict message and overwrites nothing (no lost update); completing the same care task in two
tabs or by two people — done once, the second gets a clear message. The sequential cases run
on every database through the real pages; the truly simultaneous ones (threads) need
PostgreSQL's row locks."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from customers.models import Activity, Contract, Customer
from servicelevels.models import CareTask
from tests.customers.test_property_forms import form_as_submitted
from tests.factories import ContractFactory, CustomerFactory, StaffFactory
from tests.servicelevels.factories import CareTaskFactory


def session(username: str) -> Client:
    client = Client()
    client.force_login(StaffFactory(username=username, language="en"))
    return client


# --- sequential: both tabs open the form, both save -----------------------------------------


@pytest.mark.django_db
def test_two_sessions_editing_a_customer_the_second_gets_a_conflict_and_nothing_is_lost():
    customer = CustomerFactory(city="Sangerhausen", phone="")
    url = reverse("customers:update", args=[customer.pk])
    first, second = session("tab-one"), session("tab-two")
    form_one = form_as_submitted(first, url, "customer-form")
    form_two = form_as_submitted(second, url, "customer-form")

    saved = first.post(url, {**form_one, "city": "Halle (Saale)", "postal_code": "06108"})
    refused = second.post(url, {**form_two, "phone": "+49 345 123456"})

    assert saved.status_code == 302
    assert refused.status_code in (200, 409)
    assert "Someone else changed this customer in the meantime" in refused.content.decode()
    customer.refresh_from_db()
    assert (customer.city, customer.phone, customer.version) == ("Halle (Saale)", "", 2)

    # After reloading, the second session's change goes through on top of the first.
    reloaded = form_as_submitted(second, url, "customer-form")
    assert second.post(url, {**reloaded, "phone": "+49 345 123456"}).status_code == 302
    customer.refresh_from_db()
    assert (customer.city, customer.phone, customer.version) == ("Halle (Saale)", "+49 345 123456", 3)


@pytest.mark.django_db
def test_two_sessions_editing_a_contract_the_second_gets_a_conflict_and_nothing_is_lost():
    contract = ContractFactory(annual_premium=Decimal("89.00"), notice_period_months=3)
    url = reverse("customers:contract_update", args=[contract.pk])
    first, second = session("tab-one"), session("tab-two")
    form_one = form_as_submitted(first, url, "contract-form")
    form_two = form_as_submitted(second, url, "contract-form")

    assert first.post(url, {**form_one, "annual_premium": "120.00"}).status_code == 302
    refused = second.post(url, {**form_two, "notice_period_months": "1"})

    assert "Someone else changed this contract in the meantime" in refused.content.decode()
    contract.refresh_from_db()
    assert (contract.annual_premium, contract.notice_period_months) == (Decimal("120.00"), 3)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first_action", "second_action"), [("done", "done"), ("skip", "done"), ("done", "skip")]
)
def test_closing_a_task_in_two_tabs_happens_once(first_action, second_action):
    user = StaffFactory(username="zwei-tabs", language="en")
    tab_one, tab_two = Client(), Client()
    tab_one.force_login(user)
    tab_two.force_login(user)
    task = CareTaskFactory(assignee=user)
    url = reverse("servicelevels:task_close", kwargs={"pk": task.pk})

    tab_one.post(url, {"action": first_action, "outcome": "erste"}, HTTP_HX_REQUEST="true")
    second = tab_two.post(url, {"action": second_action, "outcome": "zweite"}, HTTP_HX_REQUEST="true")

    word = "completed" if first_action == "done" else "skipped"
    assert f"This task was already {word}. Nothing was changed." in second.content.decode()
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("done" if first_action == "done" else "skipped", "erste")
    assert Activity.objects.filter(customer=task.customer).count() == (1 if first_action == "done" else 0)


# --- simultaneous: two threads at the same moment (PostgreSQL) -------------------------------


def at_once(*calls):
    """Run the calls in threads released together; each thread closes its connection."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_people_completing_the_same_task_at_once_complete_it_once(require_postgres):
    task = CareTaskFactory()
    url = reverse("servicelevels:task_close", kwargs={"pk": task.pk})
    clients = [session(f"gleichzeitig-{i}") for i in range(2)]

    responses = at_once(
        *[
            lambda c=c, i=i: c.post(url, {"action": "done", "outcome": f"Notiz {i}"}, HTTP_HX_REQUEST="true")
            for i, c in enumerate(clients)
        ]
    )

    bodies = [r.content.decode() for r in responses]
    assert sorted("Task completed." in b for b in bodies) == [False, True]
    assert sum("already completed" in b for b in bodies) == 1
    task.refresh_from_db()
    assert task.status == CareTask.Status.DONE
    assert Activity.objects.filter(customer=task.customer).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_sessions_saving_the_same_customer_at_once_save_once(require_postgres):
    customer = CustomerFactory(city="Sangerhausen")
    url = reverse("customers:update", args=[customer.pk])
    clients = [session(f"parallel-{i}") for i in range(2)]
    forms = [form_as_submitted(c, url, "customer-form") for c in clients]

    responses = at_once(
        lambda: clients[0].post(url, {**forms[0], "city": "Halle (Saale)"}),
        lambda: clients[1].post(url, {**forms[1], "city": "Leipzig"}),
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] != 302 and statuses[1] == 302
    loser = next(r for r in responses if r.status_code != 302)
    assert "Someone else changed this customer in the meantime" in loser.content.decode()
    customer.refresh_from_db()
    winner_city = "Halle (Saale)" if responses[0].status_code == 302 else "Leipzig"
    assert (customer.city, customer.version) == (winner_city, 2)
    assert Customer.history.filter(id=customer.pk, history_type="~").count() == 1
    assert Contract.objects.count() == 0
