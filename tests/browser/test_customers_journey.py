"""Office staff's day in a real browser: find a customer with the filters, create one (a bad
PLZ first), add a contract and a Courtage booking, see them on the customer page, log a call."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import CustomerFactory, InsurerFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"customers-journey-{name}.png"), full_page=True)


def test_office_staff_journey(page, live_server, artifacts_dir, console_errors):
    staff = StaffFactory(username="innendienst-browser", language="en", first_name="Ina", last_name="Innen")
    CustomerFactory(number="K0000101", first_name="Anna", name="Schmidt", postal_code="06526", segment="A",
                    revenue=Decimal("1800"))  # fmt: skip
    CustomerFactory(number="K0000102", first_name="Bernd", name="Schmidt", postal_code="10115", city="Berlin")
    CustomerFactory(number="K0000103", first_name="Carla", name="Meier", postal_code="06108", city="Halle")
    InsurerFactory(name="Muster Versicherung AG")

    # base.html names no favicon; the browser's guess would count as a console error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))

    # Log in.
    login(page, live_server, staff.username)
    expect(page).to_have_url(re.compile(r"/customers/$"))
    expect(page.locator("#customer-table")).to_contain_text("Meier")
    shot(page, artifacts_dir, "01-customer-list")

    # Find a customer with the filters: the table refreshes through htmx, the page stays.
    page.evaluate("window.__samePage = true")
    page.locator("#id_q").fill("Schmidt")
    page.locator("#id_plz").fill("06")
    page.locator("#id_plz").press("Enter")
    expect(page.locator("#customer-table")).not_to_contain_text("Meier")
    expect(page.locator("#customer-table")).not_to_contain_text("Berlin")
    expect(page.locator("#customer-table")).to_contain_text("Schmidt, Anna")
    expect(page).to_have_url(re.compile(r"q=Schmidt.*plz=06"))
    assert page.evaluate("window.__samePage") is True
    page.locator("#id_segment").select_option("A")
    expect(page).to_have_url(re.compile(r"segment=A"))
    expect(page.locator("#customer-table")).to_contain_text("Schmidt, Anna")
    # Sorting keeps the filters, and filtering afterwards keeps the sort.
    page.locator("#customer-table thead").get_by_role("link", name=re.compile("Revenue")).click()
    expect(page).to_have_url(re.compile(r"sort=revenue"))
    expect(page.locator("#customer-table th[aria-sort=ascending]")).to_contain_text("Revenue")
    page.locator("#id_status").select_option("active")
    expect(page).to_have_url(re.compile(r"(?=.*status=active)(?=.*sort=revenue)(?=.*q=Schmidt)"))
    expect(page.locator("#customer-table")).to_contain_text("Schmidt, Anna")
    assert page.evaluate("window.__samePage") is True
    shot(page, artifacts_dir, "02-filtered")

    # Create a customer with a bad PLZ, read the error at the field, fix it.
    page.locator("#new-customer").click()
    page.locator("#id_salutation").select_option("2")
    page.locator("#id_first_name").fill("Erika")
    page.locator("#id_name").fill("Mustermann")
    page.locator("#id_birth_date").fill("04.03.1975")
    page.locator("#id_street").fill("Markt 1")
    page.locator("#id_postal_code").fill("0652")
    page.locator("#id_city").fill("Sangerhausen")
    page.locator("#id_email").fill("erika@example.org")
    page.get_by_role("button", name="Save").click()
    error = page.locator('.invalid-feedback[data-field="postal_code"]')
    expect(error).to_contain_text("five digits")
    expect(page.locator("#id_postal_code")).to_have_class(re.compile("is-invalid"))
    shot(page, artifacts_dir, "03-bad-plz")
    page.locator("#id_postal_code").fill("06526")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#customer-name")).to_contain_text("Mustermann, Erika")
    shot(page, artifacts_dir, "04-customer-created")

    # Add a contract.
    page.locator("#new-contract").click()
    page.locator("#id_insurer").select_option(label="Muster Versicherung AG")
    page.locator("#id_line_of_business").fill("041")
    page.locator("#id_policy_number").fill("PHV-2026-1")
    page.locator("#id_start_date").fill("01.01.2026")
    page.locator("#id_annual_premium").fill("89.50")
    page.get_by_role("button", name="Save").click()
    contracts = page.locator("#contracts")
    expect(contracts).to_contain_text("PHV-2026-1")
    expect(contracts).to_contain_text("89.50")
    shot(page, artifacts_dir, "05-contract-added")

    # Book Courtage on it and see it on the customer page.
    page.locator("#new-booking").click()
    expect(page.locator("#id_contract")).to_have_value(re.compile(r"\d+"))  # the only contract
    page.locator("#id_kind").select_option("acquisition")
    page.locator("#id_amount").fill("250.00")
    page.locator("#id_statement_reference").fill("Abrechnung 06/2026")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#courtage-total")).to_contain_text("250.00")
    expect(page.locator("#bookings")).to_contain_text("Abrechnung 06/2026")
    shot(page, artifacts_dir, "06-booking-added")

    # Log a call inline: the timeline refreshes through htmx, the page stays.
    page.evaluate("window.__samePage = true")
    page.locator("#id_kind").select_option("call")
    page.locator("#id_subject").fill("Called about liability cover")
    page.get_by_role("button", name="Log activity").click()
    expect(page.locator("#timeline")).to_contain_text("Called about liability cover")
    expect(page.locator("#timeline li[data-kind=call]")).to_have_count(1)
    assert page.evaluate("window.__samePage") is True
    shot(page, artifacts_dir, "07-call-logged")

    assert console_errors == []


def test_renewal_worklist_consent_and_contract_housekeeping(page, live_server, artifacts_dir, console_errors):
    import datetime as dt

    from tests.factories import CommissionBookingFactory, ContractFactory

    staff = StaffFactory(username="innendienst-renewal", language="en")
    soon = dt.date.today() + dt.timedelta(days=20)
    customer = CustomerFactory(number="K0000201", first_name="Dora", name="Vogel")
    ContractFactory(customer=customer, policy_number="KFZ-SOON", main_due_date=soon, notice_period_months=0)
    booked = ContractFactory(customer=customer, policy_number="HR-BOOKED",
                             main_due_date=soon + dt.timedelta(days=150), notice_period_months=0)  # fmt: skip
    CommissionBookingFactory(contract=booked)
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    login(page, live_server, staff.username)

    # The renewal worklist: due within 30 days.
    page.goto(f"{live_server.url}/customers/contracts/")
    page.get_by_role("link", name="due within 30 days").click()
    table = page.locator("#contract-table")
    expect(table).to_contain_text("KFZ-SOON")
    expect(table).not_to_contain_text("HR-BOOKED")
    shot(page, artifacts_dir, "11-renewal-worklist")

    # Record and withdraw marketing consent.
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.locator("#consents").get_by_role("link", name="Record").click()
    page.locator("#id_channel").select_option("email")
    page.locator("#id_source").fill("Signed form")
    page.locator("#id_wording").fill("I agree to receive e-mails about my insurance.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#consents")).to_contain_text("Signed form")
    page.locator("#consents").get_by_role("link", name="Withdraw").click()
    page.get_by_role("button", name="Withdraw").click()
    expect(page.locator("#consents")).to_contain_text("withdrawn")
    shot(page, artifacts_dir, "12-consent-withdrawn")

    # A contract with bookings cannot be deleted; one without can, after confirmation.
    page.goto(f"{live_server.url}/customers/contracts/{booked.pk}/delete/")
    expect(page.locator("#delete-protected")).to_contain_text("cannot be deleted")
    expect(page.locator("#confirm-delete")).to_have_count(0)
    shot(page, artifacts_dir, "13-delete-protected")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.locator("#contracts tr", has_text="KFZ-SOON").get_by_role("link", name="Edit").click()
    page.get_by_role("link", name="Delete").click()
    page.locator("#confirm-delete").click()
    expect(page.locator("#contracts")).not_to_contain_text("KFZ-SOON")
    expect(page.locator("#contracts")).to_contain_text("HR-BOOKED")
    shot(page, artifacts_dir, "14-contract-deleted")

    assert console_errors == []
