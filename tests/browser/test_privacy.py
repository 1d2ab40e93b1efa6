"""The owner in a real browser: a change shows in the customer page's history panel, the
Art. 15 export downloads, an erasure request (a wrong confirmation first) anonymises the
customer, restricts the rest and lists it in the register of requests."""

import datetime as dt
import io
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import (
    CommissionBookingFactory,
    ContractFactory,
    CustomerFactory,
    MarketingConsentFactory,
    OwnerFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"privacy-{name}.png"), full_page=True)


def test_owner_sees_history_exports_and_erases(page, live_server, artifacts_dir, console_errors):
    owner = OwnerFactory(username="inhaber-browser", language="en", first_name="Olga", last_name="Owner")
    customer = CustomerFactory(number="K0000201", first_name="Erika", name="Mustermann", city="Sangerhausen")
    contract = ContractFactory(customer=customer, policy_number="PH-201")
    CommissionBookingFactory(contract=contract, booked_on=dt.date(2026, 6, 1))
    MarketingConsentFactory(customer=customer)
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))

    login(page, live_server, owner.username)
    expect(page).to_have_url(re.compile(r"/customers/$"))

    # A change, then the history panel on the customer page says who changed what.
    page.goto(f"{live_server.url}/customers/{customer.pk}/edit/")
    page.locator("#id_city").fill("Halle (Saale)")
    page.locator("#id_postal_code").fill("06108")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#customer-name")).to_contain_text("Mustermann, Erika")
    panel = page.locator("#history-panel")
    city = panel.locator('tr[data-field="city"]').first
    expect(city.locator(".history-old")).to_have_text("Sangerhausen")
    expect(city.locator(".history-new")).to_have_text("Halle (Saale)")
    expect(panel.locator(".history-user").first).to_have_text("Olga Owner")
    expect(panel).to_contain_text("PH-201")
    shot(page, artifacts_dir, "01-history-panel")

    # Art. 15: the download holds everything stored.
    with page.expect_download() as download_info:
        page.locator("#privacy-export").click()
    download = download_info.value
    assert download.suggested_filename.startswith("dsgvo-art15-K0000201")
    with zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read())) as archive:
        exported = json.loads(archive.read("json/customer.json"))
        names = archive.namelist()
    assert exported[0]["name"] == "Mustermann"
    assert "json/customers.commissionbooking.json" in names and "csv/customers.contract.csv" in names

    # Art. 17: the plan first; a wrong confirmation is refused at the field.
    page.locator("#privacy-erase").click()
    expect(page.locator("#erasure-plan")).to_contain_text("Contracts")
    expect(page.locator("#retention-until")).to_contain_text("2036")
    page.locator("#id_reason").fill("Letter of 20.11.2026 asking for erasure")
    page.locator("#id_confirm_number").fill("K0000999")
    page.locator("#confirm-erasure").click()
    expect(page.locator('.invalid-feedback[data-field="confirm_number"]')).to_contain_text("K0000201")
    shot(page, artifacts_dir, "02-erasure-refused")
    page.locator("#id_confirm_number").fill("K0000201")
    page.locator("#confirm-erasure").click()

    expect(page.locator("#customer-name")).to_contain_text("Gelöscht")
    expect(page.locator("#restricted-notice")).to_contain_text("2036")
    expect(page.locator("#privacy-erase")).to_have_count(0)
    shot(page, artifacts_dir, "03-restricted")

    page.goto(f"{live_server.url}/customers/")
    expect(page.locator("#customer-table")).not_to_contain_text("K0000201")

    page.goto(f"{live_server.url}/customers/privacy/")
    row = page.locator("#privacy-requests tbody tr").first
    expect(row).to_contain_text("K0000201")
    expect(row).to_contain_text("Letter of 20.11.2026")
    shot(page, artifacts_dir, "04-register")
    assert console_errors == []
