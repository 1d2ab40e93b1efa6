"""The owner's dashboard in a real browser: the class matrix and the charts render without
JavaScript errors, the O→A cell of the migration matrix leads to exactly those customers, a
threshold changed in the policy preview changes the class sizes, and a run started by hand shows
on the dashboard."""

import re

import pytest
from playwright.sync_api import expect

from segmentation.models import ReclassificationRun
from tests.browser.conftest import login
from tests.dashboards.conftest import build_book
from tests.factories import OwnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"dashboards-{name}.png"), full_page=True)


def log_in(page, live_server, user) -> None:
    # base.html names no favicon; the browser's guess would count as a console error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    login(page, live_server, user.username)
    expect(page.locator("#usermenu")).to_be_visible()


def cell_values(page, table: str, column: str) -> list[str]:
    return page.locator(f"#table-{table} tbody [data-col='{column}']").evaluate_all(
        "cells => cells.map(c => c.dataset.value)"
    )


def test_owner_reads_the_dashboard_and_steers_the_policy(page, live_server, artifacts_dir, console_errors):
    owner = OwnerFactory(username="inhaber-dashboard", language="en")
    book = build_book(owner)

    # The dashboard from the menu: the 2×2 matrix and three charts drawn by Chart.js.
    log_in(page, live_server, owner)
    page.locator("#mainnav").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboards/$"))
    expect(page.locator("#class-cell-A [data-figure=customers]")).to_have_text("2")
    expect(page.locator("#class-cell-B [data-figure=customers]")).to_have_text("3")
    expect(page.locator("#class-cell-O [data-figure=customers]")).to_have_text("2")
    expect(page.locator("#class-cell-C [data-figure=customers]")).to_have_text("1")
    for chart in ("revenue-potential", "over-time", "care"):
        expect(page.locator(f"canvas#chart-{chart}")).to_have_attribute("data-rendered", "true")
    shot(page, artifacts_dir, "1-matrix-and-charts")

    # The period of the two runs; the O→A cell lists exactly the customer who moved.
    page.locator("#id_from").fill("31.05.2026")
    page.locator("#id_to").fill("30.06.2026")
    page.locator("#dashboard-filters button[type=submit]").click()
    expect(page.locator("#conversion-rate")).to_have_attribute("data-value", "33.3")
    shot(page, artifacts_dir, "2-migration")
    page.locator("#table-migration a[href*='old=O&new=A']").click()
    expect(page).to_have_url(re.compile(r"/dashboards/migration/customers/\?.*old=O&new=A"))
    assert cell_values(page, "customers", "number") == [book.c["o1"].number]
    shot(page, artifacts_dir, "3-o-to-a-customers")
    page.locator("#table-customers a").first.click()
    expect(page).to_have_url(re.compile(rf"/customers/{book.c['o1'].pk}/$"))

    # The policy preview: a higher revenue threshold shrinks the high-revenue classes.
    page.goto(f"{live_server.url}/dashboards/")
    page.locator("#h-class-matrix").scroll_into_view_if_needed()
    page.get_by_role("link", name="Segmentation policy").click()
    page.wait_for_load_state()  # htmx listens to the form from here on
    expect(page.locator("#preview-count-A")).to_have_attribute("data-count", "2")
    page.locator("#id_revenue_value").fill("900")
    expect(page.locator("#preview-count-A")).to_have_attribute("data-count", "1")
    expect(page.locator("#preview-count-B")).to_have_attribute("data-count", "0")
    shot(page, artifacts_dir, "4-policy-preview")
    page.locator("#save-policy").click()
    expect(page.locator(".alert-success")).to_be_visible()

    # Run the reclassification now; the dashboard shows that run and the new classes.
    page.goto(f"{live_server.url}/segmentation/runs/")
    page.locator("#run-now").click()
    expect(page.locator(".alert-success")).to_be_visible()
    run = ReclassificationRun.objects.order_by("-id").first()
    assert run.status == "finished" and run.pk != book.second_run.pk
    page.locator("#mainnav").get_by_role("link", name="Dashboard").click()
    expect(page.locator("#last-run")).to_have_attribute("data-run", str(run.pk))
    expect(page.locator("#last-run-status")).to_have_text("finished")
    expect(page.locator("#figures-as-of")).to_contain_text(f"#{run.pk}")
    expect(page.locator("#class-cell-A [data-figure=customers]")).to_have_text("1")
    expect(page.locator("#class-cell-B [data-figure=customers]")).to_have_text("0")
    assert "B->C" in run.transitions
    expect(page.locator("#table-transitions")).to_contain_text("B")
    shot(page, artifacts_dir, "5-after-run")

    assert console_errors == []
