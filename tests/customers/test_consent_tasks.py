"""Withdrawing a marketing consent changes the customer's open marketing tasks on that channel
at once, as planning would on its next run: a letter instead, with the note on the task;
granting it again puts them back. Closed tasks, other channels, other customers and
non-marketing work are left alone."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from customers import services
from customers.models import MarketingConsent
from servicelevels.models import CareTask, Channel
from servicelevels.services import care_tasks_plan
from tests.factories import CustomerFactory, MarketingConsentFactory, StaffFactory
from tests.servicelevels.factories import CareActivityFactory, CareTaskFactory, level

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def task(customer, channel, *, marketing=True, status=CareTask.Status.OPEN, **fields):
    activity = CareActivityFactory(channel=channel, marketing=marketing, service_level=level("B"))
    closed = None if status == CareTask.Status.OPEN else timezone.now()
    return CareTaskFactory(customer=customer, activity=activity, status=status, closed_at=closed, **fields)


def channels(*tasks) -> list[tuple[str, str]]:
    return [
        (t.channel, t.fallback_from)
        for t in CareTask.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk")
    ]


@pytest.fixture
def book(db):
    customer = CustomerFactory(segment="B")
    MarketingConsentFactory(customer=customer, channel="phone")
    MarketingConsentFactory(customer=customer, channel="email")
    return customer


def test_withdrawing_phone_consent_in_the_page_moves_open_marketing_calls_to_letters(staff_client, book):
    call = task(book, Channel.PHONE)
    email = task(book, Channel.EMAIL)
    service_call = task(book, Channel.PHONE, marketing=False)
    done_call = task(book, Channel.PHONE, status=CareTask.Status.DONE)
    someone_else = task(CustomerFactory(segment="B"), Channel.PHONE)
    consent = MarketingConsent.objects.get(customer=book, channel="phone")

    response = staff_client.post(
        reverse("customers:consent_withdraw", args=[consent.pk]), {"withdrawn_on": TODAY.strftime("%d.%m.%Y")}
    )

    assert response.status_code == 302
    assert channels(call, email, service_call, done_call, someone_else) == [
        ("letter", "phone"),
        ("email", ""),
        ("phone", ""),
        ("phone", ""),
        ("phone", ""),
    ]
    call.refresh_from_db()
    assert (call.status, call.closed_at) == (CareTask.Status.OPEN, None)


def test_the_task_list_shows_the_note_after_a_withdrawal(client, book):
    task(book, Channel.EMAIL)
    staff = StaffFactory(username="consent-en", language="en")
    client.force_login(staff)
    consent = MarketingConsent.objects.get(customer=book, channel="email")
    services.consent_withdraw(consent=consent, withdrawn_on=TODAY, by=staff)

    response = client.get(reverse("servicelevels:customer_tasks", args=[book.pk]))
    assert "No marketing consent for e-mail: send a letter instead." in response.content.decode()


def test_granting_consent_again_puts_the_letters_back(book, staff):
    email = task(book, Channel.EMAIL)
    consent = MarketingConsent.objects.get(customer=book, channel="email")
    services.consent_withdraw(consent=consent, withdrawn_on=TODAY, by=staff)
    assert channels(email) == [("letter", "email")]

    services.consent_grant(
        customer=book, channel="email", granted_on=TODAY, source="Telefonat", wording="Ja", by=staff
    )

    assert channels(email) == [("email", "")]


def test_a_refused_withdrawal_changes_no_task(book, staff):
    call = task(book, Channel.PHONE)
    consent = MarketingConsent.objects.get(customer=book, channel="phone")
    with pytest.raises(ValidationError):
        services.consent_withdraw(consent=consent, withdrawn_on=TODAY + dt.timedelta(days=1), by=staff)
    assert channels(call) == [("phone", "")]


def test_planning_afterwards_agrees_with_the_immediate_change(book, staff):
    """The next planning run keeps the letter (it re-checks consent for every open task)."""
    CareTask.objects.all().delete()
    CareActivityFactory(
        service_level=level("B"), channel=Channel.PHONE, marketing=True, interval_months=12, name="Anruf"
    )
    care_tasks_plan(as_of=TODAY)
    [call] = CareTask.objects.filter(customer=book, activity__name="Anruf", status="open")
    assert (call.channel, call.fallback_from) == ("phone", "")

    services.consent_withdraw(
        consent=MarketingConsent.objects.get(customer=book, channel="phone"), withdrawn_on=TODAY, by=staff
    )
    assert channels(call) == [("letter", "phone")]
    care_tasks_plan(as_of=TODAY)
    assert list(
        CareTask.objects.filter(customer=book, activity__name="Anruf").values_list(
            "channel", "fallback_from", "status"
        )
    ) == [("letter", "phone", "open")]
