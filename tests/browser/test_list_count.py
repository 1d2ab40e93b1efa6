"""The customer list shows its rows first and its count line a moment later (loaded through
htmx from the count view); paging, filtering and a browser without JavaScript keep it right."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import PASSWORD, CustomerFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"list-count-{name}.png"), full_page=True)


@pytest.fixture
def book(db):
    staff = StaffFactory(username="zaehler", language="de")
    CustomerFactory.create_batch(55, status="active", postal_code="06526")
    CustomerFactory.create_batch(20, status="prospect", postal_code="10115")
    return staff


def test_the_count_follows_the_rows_paging_and_filters(
    page, live_server, artifacts_dir, console_errors, book
):
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    login(page, live_server, book.username, PASSWORD)
    expect(page).to_have_url(re.compile(r"/customers/$"))

    count = page.get_by_test_id("result-count")
    expect(count).to_have_text("75 Einträge · Seite 1 von 2")
    expect(page.locator("#customer-table tbody tr")).to_have_count(50)
    shot(page, artifacts_dir, "01-counted")

    page.get_by_role("link", name=re.compile("nächste")).click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(count).to_have_text("75 Einträge · Seite 2 von 2")  # the last page knows its count
    expect(page.locator("#customer-table tbody tr")).to_have_count(25)

    page.locator("#id_status").select_option("active")
    expect(page).to_have_url(re.compile(r"status=active"))
    expect(count).to_have_text("55 Einträge · Seite 1 von 2")
    page.locator("#id_plz").fill("101")
    page.locator("#id_plz").press("Enter")
    expect(count).to_have_text("0 Einträge")
    shot(page, artifacts_dir, "02-filtered")
    assert console_errors == []


def test_without_javascript_the_count_is_a_link(browser, live_server, artifacts_dir, book):
    context = browser.new_context(java_script_enabled=False, locale="de-DE")
    page = context.new_page()
    login(page, live_server, book.username, PASSWORD)
    page.goto(f"{live_server.url}/customers/?status=active")

    page.get_by_role("link", name="Einträge zählen").click()
    expect(page.get_by_test_id("result-count")).to_have_text("55 Einträge · Seite 1 von 2")
    shot(page, artifacts_dir, "03-without-javascript")
    page.get_by_role("link", name="Zurück zur Liste").click()
    expect(page).to_have_url(re.compile(r"/customers/\?status=active$"))
    expect(page.locator("#customer-table tbody tr")).to_have_count(50)
    context.close()
