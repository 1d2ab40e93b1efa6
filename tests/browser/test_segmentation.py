"""Segmentation in a real browser: the owner edits a threshold and watches the preview change,
saves a new policy version, runs the reclassification now, sees the run, and reads a customer's
explanation."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from playwright.sync_api import expect

from segmentation.models import ReclassificationRun, SegmentationPolicy
from tests.browser.conftest import login
from tests.factories import (
    CommissionBookingFactory,
    ContractFactory,
    CustomerFactory,
    OwnerFactory,
    line,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"segmentation-{name}.png"), full_page=True)


def log_in(page, live_server, user) -> None:
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    login(page, live_server, user.username)
    expect(page.locator("#usermenu")).to_be_visible()


def book(amount: str, **customer_fields):
    customer = CustomerFactory(**customer_fields)
    contract = ContractFactory(customer=customer, line_of_business=line("130"))
    CommissionBookingFactory(
        contract=contract, booked_on=timezone.localdate() - dt.timedelta(days=30), amount=Decimal(amount)
    )
    return customer, contract


def test_owner_tunes_the_policy_runs_it_and_reads_an_explanation(
    page, live_server, artifacts_dir, console_errors
):
    owner = OwnerFactory(username="inhaber-segmentation", language="en")
    for amount in ("100.00", "300.00", "600.00"):
        book(amount)
    anna, contract = book(
        "1200.00", first_name="Anna", name="Schmidt", birth_date=dt.date(1985, 4, 2), occupation="employed"
    )
    versions = SegmentationPolicy.objects.count()

    log_in(page, live_server, owner)
    page.get_by_role("link", name="Segmentation").first.click()
    expect(page).to_have_url(re.compile(r"/segmentation/$"))
    expect(page.locator("#preview-count-B")).to_have_attribute("data-count", "2")  # 600 and 1200 of 400
    shot(page, artifacts_dir, "01-policy")

    page.locator("#id_revenue_value").fill("250")
    expect(page.locator("#preview-count-B")).to_have_attribute("data-count", "3")  # htmx preview, not saved
    expect(page.locator("#preview-revenue-threshold")).to_contain_text("250")
    assert SegmentationPolicy.objects.count() == versions
    shot(page, artifacts_dir, "02-preview")

    page.locator("#id_note").fill("Lower revenue threshold")
    page.locator("#save-policy").click()
    expect(page.locator("#policy-versions tr.table-success")).to_contain_text(f"v{versions + 1}")
    active = SegmentationPolicy.objects.get(is_active=True)
    assert (active.version, active.revenue_value) == (versions + 1, Decimal("250"))

    page.get_by_role("link", name="Runs").click()
    page.locator("#run-now").click()
    run = ReclassificationRun.objects.get()
    row = page.locator(f"#run-{run.pk}")
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "finished")
    expect(row).to_contain_text("->A: 1")  # Anna (BU gap)
    expect(row).to_contain_text("->B: 2")
    shot(page, artifacts_dir, "03-runs")

    page.goto(f"{live_server.url}{reverse('segmentation:customer_panel', kwargs={'pk': anna.pk})}")
    panel = page.locator("#segmentation-panel")
    expect(panel.locator("#seg-class")).to_have_attribute("data-class", "A")  # BU gap: high potential
    expect(panel.locator("#seg-reasons")).to_contain_text("High revenue and high potential: class A.")
    expect(panel.locator("#seg-bookings")).to_contain_text(contract.policy_number)
    expect(panel.locator("#seg-components")).to_contain_text("Berufsunfähigkeit")
    expect(panel.locator("#seg-history")).to_contain_text("– → A")
    shot(page, artifacts_dir, "04-explanation")

    try:
        detail = reverse("customers:detail", kwargs={"pk": anna.pk})
    except NoReverseMatch:
        detail = None
    if detail:  # loaded lazily into the customer page
        page.goto(f"{live_server.url}{detail}")
        expect(page.locator("#segmentation-panel #seg-reasons")).to_contain_text("class A")
        shot(page, artifacts_dir, "05-customer-page")

    assert console_errors == []


def test_owner_adds_a_rule_and_staff_records_a_fremdvertrag(page, live_server, artifacts_dir, console_errors):
    from segmentation.models import RecommendationRule, ThirdPartyContract
    from tests.factories import StaffFactory

    owner = OwnerFactory(username="inhaber-rules", language="en")
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}{reverse('segmentation:rule_list')}")
    expect(page.locator("#rules")).to_contain_text("Betriebshaftpflicht")
    page.locator("#new-rule").click()
    page.locator("#id_name").fill("Pflege for 50+")
    page.locator("#id_line_of_business").select_option(label="028 Pflege")
    page.locator("#id_min_age").fill("60")
    page.locator("#id_max_age").fill("50")
    page.locator("#id_expected_commission").fill("120")
    page.locator("#rule-form button[type=submit]").click()
    expect(
        page.locator("#id_max_age + .invalid-feedback, #id_max_age ~ .invalid-feedback").first
    ).to_contain_text("must not be below the minimum age")
    assert not RecommendationRule.objects.filter(name="Pflege for 50+").exists()
    shot(page, artifacts_dir, "06-rule-error")
    page.locator("#id_min_age").fill("50")
    page.locator("#id_max_age").fill("")
    page.locator("#rule-form button[type=submit]").click()
    expect(page.locator("#rules")).to_contain_text("Pflege for 50+")
    page.locator("#usermenu").click()
    page.get_by_role("button", name="Log out").click()

    staff = StaffFactory(username="innendienst-seg", language="en")
    customer = CustomerFactory(first_name="Bernd", name="Keller")
    log_in(page, live_server, staff)
    page.goto(f"{live_server.url}{reverse('segmentation:customer_panel', kwargs={'pk': customer.pk})}")
    page.locator("#add-third-party summary").click()
    page.locator("#id_tp-line_of_business").select_option(label="140 Wohngebäude")
    page.locator("#id_tp-insurer_name").fill("Fremd AG")
    page.locator("#id_tp-expected_commission").fill("-10")
    page.locator("#add-third-party button[type=submit]").click()
    expect(page.locator("#add-third-party .invalid-feedback")).to_contain_text("cannot be negative")
    assert not ThirdPartyContract.objects.exists()
    page.locator("#id_tp-expected_commission").fill("180")
    page.locator("#add-third-party button[type=submit]").click()
    expect(page.locator("#seg-third-party")).to_contain_text("Fremd AG")
    expect(page.locator("#seg-pending")).to_be_visible()  # counts from the next run
    shot(page, artifacts_dir, "07-fremdvertrag")
    assert ThirdPartyContract.objects.get().expected_commission == Decimal("180")
    assert console_errors == []
