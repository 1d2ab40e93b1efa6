"""Care tasks in a real browser: staff completes an overdue task from "Meine Aufgaben" and finds
it in the customer's timeline; the owner edits an activity's minutes and sees the cost ratio move."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Activity
from servicelevels.models import (
    CareActivity,
    CareTask,
    Channel,
    CostSettings,
    Performer,
    Recurrence,
    ServiceLevel,
)
from tests.browser.conftest import login
from tests.factories import CustomerFactory, OwnerFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"servicelevels-{name}.png"), full_page=True)


def log_in(page, live_server, user) -> None:
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    login(page, live_server, user.username)
    expect(page.locator("#usermenu")).to_be_visible()


def test_staff_completes_an_overdue_task(page, live_server, artifacts_dir, console_errors):
    staff = StaffFactory(username="innendienst-care", language="en")
    customer = CustomerFactory(first_name="Anna", name="Schmidt", segment="B", advisor=staff)
    activity = CareActivity.objects.filter(service_level__segment="B", channel=Channel.MEETING).first()
    today = timezone.localdate()
    overdue = CareTask.objects.create(
        customer=customer,
        activity=activity,
        occurrence=today - dt.timedelta(days=5),
        due_date=today - dt.timedelta(days=5),
        assignee=staff,
        channel=activity.channel,
        planned_on=today - dt.timedelta(days=30),
    )
    later = CareTask.objects.create(
        customer=customer,
        activity=activity,
        scope_key=1,
        occurrence=today,
        due_date=today,
        assignee=staff,
        channel=activity.channel,
        planned_on=today,
    )

    log_in(page, live_server, staff)
    page.get_by_role("link", name="My tasks").click()
    expect(page).to_have_url(re.compile(r"/service/tasks/$"))
    row = page.locator(f"#task-{overdue.pk}")
    expect(page.locator("#section-overdue")).to_contain_text("Schmidt, Anna")
    expect(page.locator(f"#section-today #task-{later.pk}")).to_be_visible()
    shot(page, artifacts_dir, "01-my-tasks")

    page.evaluate("window.__samePage = true")
    row.get_by_placeholder("Outcome note").fill("Jahresgespräch geführt, Kunde zufrieden")
    row.get_by_role("button", name="Done").click()
    expect(page.locator(f"#task-{overdue.pk}")).to_have_attribute("data-status", "done")
    expect(page.locator(f"#task-{overdue.pk} .task-notice")).to_be_visible()
    assert page.evaluate("window.__samePage") is True  # swapped inline by htmx
    shot(page, artifacts_dir, "02-task-done")

    logged = Activity.objects.get(customer=customer)
    assert (logged.subject, logged.notes, logged.kind) == (
        activity.name,
        "Jahresgespräch geführt, Kunde zufrieden",
        "meeting",
    )

    # The customer's timeline shows it; the care-task panel lists it as closed.
    page.locator(f"#task-{overdue.pk} a", has_text="Schmidt, Anna").click()
    expect(page.locator("#timeline")).to_contain_text("Jahresgespräch geführt, Kunde zufrieden")
    expect(page.locator("#timeline")).to_contain_text(activity.name)
    expect(page.locator("#care-tasks")).to_contain_text("Jahresgespräch geführt, Kunde zufrieden")
    expect(page.locator(f"#care-tasks #customer-task-{later.pk}")).to_be_visible()
    shot(page, artifacts_dir, "03-customer-timeline")
    assert console_errors == []


def test_owner_edits_minutes_and_sees_the_ratio_change(page, live_server, artifacts_dir, console_errors):
    owner = OwnerFactory(username="inhaber-care", language="en")
    CostSettings.objects.update_or_create(
        pk=1, defaults={"owner_hourly_rate": Decimal("150"), "staff_hourly_rate": Decimal("45")}
    )
    level_b = ServiceLevel.objects.get(segment="B")
    review = CareActivity.objects.get(
        service_level=level_b, recurrence=Recurrence.EVERY_N_MONTHS, performer=Performer.OWNER
    )
    CustomerFactory.create_batch(2, segment="B", revenue=Decimal("800"))

    log_in(page, live_server, owner)
    page.get_by_role("link", name="Service levels").click()
    expect(page.locator("#level-B")).to_be_visible()
    ratio = page.locator("#ratio-B")
    before = Decimal(ratio.get_attribute("data-ratio"))
    shot(page, artifacts_dir, "04-catalogue")

    page.evaluate("window.__samePage = true")
    minutes = page.locator(f"#minutes-{review.pk}")
    minutes.fill("120")
    minutes.press("Tab")  # change → htmx posts and swaps the class's card
    expect(page.locator(f"#minutes-{review.pk}")).to_have_value("120")
    expect(ratio).not_to_have_attribute("data-ratio", str(before))
    after = Decimal(page.locator("#ratio-B").get_attribute("data-ratio"))
    # one more hour of the owner a year: +150 € on 800 € revenue = +18.75 percentage points
    assert after - before == Decimal("18.8") or after - before == Decimal("18.7")
    expect(page.locator("#warning-B")).to_be_visible()
    assert page.evaluate("window.__samePage") is True
    review.refresh_from_db()
    assert review.minutes == 120
    shot(page, artifacts_dir, "05-minutes-edited")

    # Bad input: 0 minutes → a message at the field, nothing saved.
    page.locator(f"#minutes-{review.pk}").fill("0")
    page.locator(f"#minutes-{review.pk}").press("Tab")
    expect(page.locator(f"#minutes-error-{review.pk}")).to_contain_text("more than 0")
    review.refresh_from_db()
    assert review.minutes == 120
    shot(page, artifacts_dir, "06-minutes-error")
    assert console_errors == []
