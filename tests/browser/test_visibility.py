"""The owner switches office staff to "own customers only" in a real browser; a staff member
then finds only the customers they advise, and another advisor's customer is not found."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import CustomerFactory, OwnerFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"visibility-{name}.png"), full_page=True)


def sign_in(page, live_server, username: str) -> None:
    login(page, live_server, username)
    expect(page).to_have_url(re.compile(r"/customers/$"))
    # The URL changes before the page has loaded; htmx binds the filter form's listeners on
    # load, so text typed earlier would never reach the server (seen once in CI).
    page.wait_for_load_state()


def test_owner_limits_staff_to_their_own_customers(page, live_server, artifacts_dir, console_errors):
    owner = OwnerFactory(username="inhaber-sicht")
    anna = StaffFactory(username="anna", first_name="Anna", last_name="Innen")
    bernd = StaffFactory(username="bernd", first_name="Bernd", last_name="Innen")
    CustomerFactory(name="Annakundin", advisor=anna)
    other = CustomerFactory(name="Berndkunde", advisor=bernd)
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))

    sign_in(page, live_server, owner.username)
    page.locator("#usermenu").click()
    page.get_by_role("link", name="Büroeinstellungen").click()
    expect(page.get_by_role("heading", name="Büroeinstellungen")).to_be_visible()
    page.locator("#id_staff_sees_own_customers_only").check()
    page.get_by_role("button", name="Speichern").click()
    expect(page.locator(".alert-success")).to_contain_text("Büroeinstellungen gespeichert")
    expect(page.locator("#office-settings-history")).to_contain_text("nur die Kunden, die sie betreuen")
    shot(page, artifacts_dir, "1-owner-settings")
    page.locator("#usermenu").click()
    page.get_by_role("button", name="Abmelden").click()

    sign_in(page, live_server, anna.username)
    table = page.locator("#customer-table")
    expect(table).to_contain_text("Annakundin")
    expect(table).not_to_contain_text("Berndkunde")
    page.locator("#id_q").fill("Berndkunde")
    expect(table).to_contain_text("Keine Kunden")
    shot(page, artifacts_dir, "2-staff-list")
    response = page.goto(f"{live_server.url}/customers/{other.pk}/")
    assert response.status == 404
    assert console_errors == [] or all("404" in e for e in console_errors)
