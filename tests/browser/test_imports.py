"""The owner moves a book in: a CSV with two bad rows, the errors in the preview, the fixed
file imported and its customers found in the list; then the GDV sample and its contracts."""

import re

import pytest
from django.contrib.auth.models import Group
from django.db import DEFAULT_DB_ALIAS, connections
from playwright.sync_api import expect

from customers.models import Contract, Customer
from tests.browser.conftest import login
from tests.factories import OwnerFactory
from tests.imports.samples import GDV_SAMPLE, gdv_sample_available

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

HEADER = "Kundennummer;Anrede;Vorname;Name;Geburtsdatum;E-Mail;Straße;PLZ;Ort\r\n"
GOOD_ROWS = [
    "K-2001;Frau;Erika;Mustermann;17.05.1980;erika@example.org;Hauptstraße 1;06526;Sangerhausen",
    "K-2002;Herr;Jürgen;Importmann;01.02.1975;;Am Markt 3;99084;Erfurt",
    "K-2003;Frau;Anna;Beispiel;03.03.1990;anna@example.org;Ringweg 7;10115;Berlin",
]
BAD_ROWS = [
    "K-2004;Herr;Max;Datumsfehler;31.02.1980;;Weg 1;06526;Sangerhausen",
    "K-2005;Frau;Lena;Plzfehler;01.01.1985;;Weg 2;1234;Halle",
]
FIXED_ROWS = [
    "K-2004;Herr;Max;Datumsfehler;28.02.1980;;Weg 1;06526;Sangerhausen",
    "K-2005;Frau;Lena;Plzfehler;01.01.1985;;Weg 2;06108;Halle",
]


def restore_migration_data() -> None:
    """Puts back the data migrations' rows (roles, Sparten) when an earlier transactional test
    flushed them. serialized_rollback cannot do it here: once Playwright's sync API runs an event
    loop in this thread, Django hands out a new connection object (asgiref's thread-critical
    Local switches to context storage), which lacks the serialized contents kept on the first."""
    if Group.objects.exists():
        return
    original = getattr(connections._connections._storage, DEFAULT_DB_ALIAS, None)
    contents = getattr(original, "_test_serialized_contents", None)
    if contents:
        connections[DEFAULT_DB_ALIAS].creation.deserialize_db_from_string(contents)


def csv_file(name: str, rows: list[str]) -> dict:
    return {
        "name": name,
        "mimeType": "text/csv",
        "buffer": (HEADER + "\r\n".join(rows) + "\r\n").encode("utf-8-sig"),
    }


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"imports-{name}.png"), full_page=True)


def upload(page, kind: str, file: dict) -> None:
    page.locator("#id_kind").select_option(kind)
    page.locator("#id_file").set_input_files(file)
    page.get_by_role("button", name="Upload and check").click()


def test_owner_imports_a_csv_and_the_gdv_sample(page, live_server, artifacts_dir, console_errors):
    if not gdv_sample_available():
        pytest.skip("the shared GDV reference data (../shared/domain/gdv/) is not present")
    restore_migration_data()
    owner = OwnerFactory(username="inhaber-import", language="en")
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))

    login(page, live_server, owner.username)
    page.get_by_role("link", name="Import").first.click()
    expect(page).to_have_url(re.compile(r"/imports/$"))
    shot(page, artifacts_dir, "01-start")

    # A CSV with two bad rows: the mapping is suggested from the German headers.
    upload(page, "customers", csv_file("kunden.csv", GOOD_ROWS + BAD_ROWS))
    expect(page).to_have_url(re.compile(r"/imports/\d+/mapping/$"))
    expect(page.locator("#id_column_0")).to_have_value("customer_number")
    expect(page.locator("#id_column_7")).to_have_value("postal_code")
    shot(page, artifacts_dir, "02-mapping")
    page.get_by_role("button", name="Check the file").click()

    # The preview lists both errors with row, column and reason; nothing is written.
    expect(page.locator("#job-status")).to_have_attribute("data-status", "invalid")
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(page.locator('#import-errors tr[data-row="5"]')).to_contain_text("Geburtsdatum")
    expect(page.locator('#import-errors tr[data-row="5"]')).to_contain_text("31.02.1980")
    expect(page.locator('#import-errors tr[data-row="6"]')).to_contain_text("PLZ")
    expect(page.locator("#confirm-form")).to_have_count(0)
    shot(page, artifacts_dir, "03-preview-errors")
    assert Customer.objects.count() == 0

    # The fixed file, uploaded again from the preview, checks clean and is imported.
    upload(page, "customers", csv_file("kunden-korrigiert.csv", GOOD_ROWS + FIXED_ROWS))
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("#job-status")).to_have_attribute("data-status", "ready")
    expect(page.locator('[data-count="create"] dd')).to_have_text("5")
    shot(page, artifacts_dir, "04-preview-ready")
    page.get_by_role("button", name="Import now").click()
    expect(page.locator("#job-status")).to_have_attribute("data-status", "done")
    expect(page.locator("#import-results")).to_contain_text("Importmann")
    shot(page, artifacts_dir, "05-imported")
    assert Customer.objects.count() == 5

    # The customers are found in the customer list.
    page.goto(f"{live_server.url}/customers/?q=Importmann")
    expect(page.locator("#customer-table")).to_contain_text("Importmann, Jürgen")
    expect(page.locator("#customer-table")).not_to_contain_text("Mustermann")
    shot(page, artifacts_dir, "06-customer-list")

    # The GDV sample: its own totals match, 14 contracts, the persons de-duplicated.
    page.goto(f"{live_server.url}/imports/")
    upload(
        page, "gdv", {"name": GDV_SAMPLE.name, "mimeType": "text/plain", "buffer": GDV_SAMPLE.read_bytes()}
    )
    expect(page.locator("#job-status")).to_have_attribute("data-status", "ready")
    expect(page.locator("#gdv-checks")).to_contain_text("4,806.00")
    expect(page.locator('[data-count="create"] dd')).to_have_text("14")
    expect(page.locator('[data-count="persons"] dd')).to_have_text("10")
    shot(page, artifacts_dir, "07-gdv-preview")
    page.get_by_role("button", name="Import now").click()
    expect(page.locator("#job-status")).to_have_attribute("data-status", "done")
    expect(page.locator("#import-results tbody tr")).to_have_count(14)
    expect(page.locator('#import-results tr[data-policy="59999999995"]')).to_contain_text("Fresy")
    shot(page, artifacts_dir, "08-gdv-imported")
    assert Contract.objects.count() == 14

    page.goto(f"{live_server.url}/customers/?q=Fresy")
    expect(page.locator("#customer-table")).to_contain_text("Fresy")
    assert console_errors == []
