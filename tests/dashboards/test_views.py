"""The dashboard pages: owner only, what they show, links, CSV, query counts."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import CommissionBooking, Contract, Customer
from dashboards import selectors, services
from dashboards.models import RunSnapshot
from segmentation import services as segmentation_services
from segmentation.models import ThirdPartyContract
from servicelevels.models import CareActivity, CareTask
from tests.factories import InsurerFactory, line

from .conftest import FIRST_RUN, SECOND_RUN

pytestmark = pytest.mark.django_db
PERIOD = {"from": FIRST_RUN.isoformat(), "to": SECOND_RUN.isoformat()}
URLS = [
    ("dashboards:index", {}),
    ("dashboards:export", {"table": "classes"}),
    ("dashboards:points", {}),
    ("dashboards:migration_customers", {**PERIOD, "old": "O", "new": "A"}),
    ("dashboards:bin_customers", {"snapshot": 1, "segment": "A", "x": 0, "y": 0}),
]


@pytest.fixture
def english(owner):
    owner.language = "en"
    owner.save(update_fields=["language"])
    return owner


def cells(html: str, table: str) -> list[list[str]]:
    """The data-value of every cell of a dashboard table, row by row."""
    match = re.search(rf'<table[^>]*id="table-{table}".*?</table>', html, re.S)
    assert match, table
    rows = re.findall(r"<tr.*?</tr>", match.group(0), re.S)
    return [re.findall(r'data-value="([^"]*)"', row) for row in rows if "data-value" in row]


def links(html: str, table: str) -> list[str]:
    match = re.search(rf'<table[^>]*id="table-{table}".*?</table>', html, re.S)
    return [h.replace("&amp;", "&") for h in re.findall(r'<a href="([^"]+)"', match.group(0))]


# --- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "params"), URLS)
def test_office_staff_get_403(staff_client, name, params):
    assert staff_client.get(reverse(name), params).status_code == 403


@pytest.mark.parametrize(("name", "params"), URLS)
def test_anonymous_users_are_sent_to_the_login(client, name, params):
    response = client.get(reverse(name), params)

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(("role", "shown"), [("owner", True), ("staff", False)])
def test_menu_entry_for_the_owner_only(client, request, role, shown):
    client.force_login(request.getfixturevalue(role))

    html = client.get(reverse("customers:list")).content.decode()

    assert (f'href="{reverse("dashboards:index")}"' in html) is shown


# --- the page ----------------------------------------------------------------------------------


def test_page_shows_every_section_as_tables_and_chart_data(book, owner_client):
    response = owner_client.get(reverse("dashboards:index"), PERIOD)
    html = response.content.decode()

    assert response.status_code == 200
    assert cells(html, "classes")[0] == [
        "A",
        "2",
        "1200.00",
        "42.9",
        "1000.00",
        "2",
        "75.00",
        "150.00",
        "12.5",
        "1050.00",
    ]
    assert cells(html, "migration")[3] == ["O", "1", "0", "0", "2", "0", "3"]
    assert cells(html, "conversion")[2][1:] == ["1", "33.3"]
    assert cells(html, "transitions") == [["C", "B", "1"], ["O", "A", "1"]]
    for canvas in ("chart-revenue-potential", "chart-over-time", "chart-care"):
        assert f'<canvas id="{canvas}"' in html
    for data in ("data-revenue-potential", "data-over-time", "data-care", "data-labels"):
        assert f'<script id="{data}" type="application/json">' in html
    assert "<script>" not in html  # no inline script (Content-Security-Policy)
    assert 'id="stale-warning"' not in html  # the last run has just finished


def test_class_cells_link_to_the_filtered_customer_list(book, owner_client):
    html = owner_client.get(reverse("dashboards:index"), {**PERIOD, "advisor": book.anna.pk}).content.decode()

    assert f'href="/customers/?segment=O&amp;advisor={book.anna.pk}" id="class-cell-O"' in html
    response = owner_client.get("/customers/", {"segment": "O", "advisor": book.anna.pk})
    assert [c["id"] for c in response.context["table"].data] == [book.c["o2"].pk]


def test_migration_cell_leads_to_exactly_its_customers(book, owner_client, english):
    html = owner_client.get(reverse("dashboards:index"), PERIOD).content.decode()
    o_to_a = [h for h in links(html, "migration") if "old=O&new=A" in h]

    assert len(o_to_a) == 1
    page = owner_client.get(o_to_a[0]).content.decode()
    o1 = book.c["o1"]
    assert cells(page, "customers") == [
        [o1.number, o1.display_name, "A", "200.00", "500.00", str(book.owner), "06526 Sangerhausen"]
    ]
    assert 'data-value="1"' in page  # the count


def test_migration_drilldown_rejects_a_broken_link(owner_client, english):
    response = owner_client.get(reverse("dashboards:migration_customers"), {**PERIOD, "old": "X", "new": "A"})

    assert response.status_code == 400


def test_migration_drilldown_as_csv(book, owner_client):
    response = owner_client.get(
        reverse("dashboards:migration_customers"), {**PERIOD, "old": "O", "new": "O", "format": "csv"}
    )

    rows = list(
        csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";")
    )
    assert response["Content-Type"].startswith("text/csv")
    assert sorted(r[0] for r in rows[1:]) == sorted([book.c["o2"].number, book.c["o3"].number])


def test_density_cell_link_lists_its_customers(book, owner_client, monkeypatch):
    monkeypatch.setattr(selectors, "SCATTER_LIMIT", 3)
    snapshot = RunSnapshot.objects.get(run=book.second_run)
    last = snapshot.bins - 1
    x = min(
        last,
        int((1000 - snapshot.revenue_low) * snapshot.bins / (snapshot.revenue_high - snapshot.revenue_low)),
    )
    y = min(
        last,
        int(
            (500 - snapshot.potential_low)
            * snapshot.bins
            / (snapshot.potential_high - snapshot.potential_low)
        ),
    )

    response = owner_client.get(
        reverse("dashboards:bin_customers"),
        {**PERIOD, "snapshot": snapshot.pk, "segment": "A", "x": x, "y": y},
    )

    assert [c.pk for c in response.context["page"]] == [book.c["a1"].pk]


def test_points_page_is_the_chart_as_a_table(book, owner_client):
    html = owner_client.get(reverse("dashboards:points"), PERIOD).content.decode()

    numbers = {row[0] for row in cells(html, "points")}
    assert numbers == {c.number for key, c in book.c.items() if key != "f1"}


def test_bad_filters_show_the_error_and_use_the_defaults(book, owner_client, english):
    response = owner_client.get(reverse("dashboards:index"), {"from": "2026-07-01", "to": "2026-06-01"})

    assert response.status_code == 200
    assert "The start must not lie after the end." in response.content.decode()
    filters = response.context["board"].filters
    assert filters.date_to == timezone.localdate()


def test_a_run_without_snapshot_gets_one_when_the_page_is_opened(book, owner_client):
    RunSnapshot.objects.all().delete()

    owner_client.get(reverse("dashboards:index"), PERIOD)

    assert RunSnapshot.objects.filter(run=book.second_run).count() == 1


# --- CSV ---------------------------------------------------------------------------------------


TABLES = [
    "classes",
    "chart_classes",
    "thresholds",
    "points",
    "over_time",
    "migration",
    "conversion",
    "care_classes",
    "care_activities",
    "care_people",
    "transitions",
    "runs",
]


@pytest.mark.parametrize("table", TABLES)
def test_every_table_exports_as_csv(book, owner_client, table):
    response = owner_client.get(reverse("dashboards:export"), {**PERIOD, "table": table})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text), delimiter=";"))) >= 1


def test_csv_of_the_class_matrix_holds_the_figures(book, owner_client, english):
    response = owner_client.get(reverse("dashboards:export"), {**PERIOD, "table": "classes"})

    rows = list(
        csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";")
    )
    assert rows[0][:3] == ["Class", "Customers", "Revenue"]
    assert rows[4][:5] == ["O", "2", "50,00", "1,8", "750,00"]


def test_unknown_table_is_404(book, owner_client):
    assert owner_client.get(reverse("dashboards:export"), {"table": "nope"}).status_code == 404


# --- query count -------------------------------------------------------------------------------


def grow_book(n: int, *, start: int) -> None:
    """n more customers in bulk, with contracts, bookings, Fremdverträge and care tasks, so that
    every class and every section has rows."""
    insurer = InsurerFactory()
    lob = line("041")
    customers = Customer.objects.bulk_create(
        Customer(number=f"Q{start + i:07d}", name=f"Kunde {start + i}", status="active") for i in range(n)
    )
    contracts = Contract.objects.bulk_create(
        Contract(
            customer=c,
            insurer=insurer,
            line_of_business=lob,
            policy_number=f"Q-{c.number}",
            start_date=dt.date(2024, 1, 1),
            main_due_date=dt.date(2024, 1, 1),
            annual_premium=Decimal("100"),
        )
        for c in customers
    )
    CommissionBooking.objects.bulk_create(
        CommissionBooking(contract=k, booked_on=dt.date(2026, 3, 1), amount=Decimal(50 + (i * 37) % 900))
        for i, k in enumerate(contracts)
    )
    ThirdPartyContract.objects.bulk_create(
        ThirdPartyContract(
            customer=c, line_of_business=lob, expected_commission=Decimal(100 + (i * 53) % 700)
        )
        for i, c in enumerate(customers)
        if i % 2
    )
    activities = list(CareActivity.objects.all())
    CareTask.objects.bulk_create(
        CareTask(
            customer=c,
            activity=activities[i % len(activities)],
            scope_key=i,
            occurrence=dt.date(2026, 6, 10),
            due_date=dt.date(2026, 6, 10),
            channel="letter",
            planned_on=dt.date(2026, 6, 1),
            status="done" if i % 3 == 0 else "open",
            closed_at=timezone.make_aware(dt.datetime(2026, 6, 11, 9)) if i % 3 == 0 else None,
        )
        for i, c in enumerate(customers)
    )


def queries_for(client, params) -> int:
    client.get(reverse("dashboards:index"), params)  # warm: snapshot and cost settings exist
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("dashboards:index"), params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("density", [False, True])
def test_query_count_does_not_grow_with_the_book(book, owner_client, monkeypatch, density):
    if density:
        monkeypatch.setattr(selectors, "SCATTER_LIMIT", 5)
    params = {"from": "2026-06-01", "to": "2026-07-31"}
    grow_book(10, start=0)
    run = segmentation_services.reclassification_run(as_of=dt.date(2026, 7, 31))
    services.snapshot_take(run=run)
    small = queries_for(owner_client, params)
    with_advisor_small = queries_for(owner_client, {**params, "advisor": book.anna.pk})

    grow_book(190, start=10)
    run = segmentation_services.reclassification_run(as_of=dt.date(2026, 8, 31))
    services.snapshot_take(run=run)
    large = queries_for(owner_client, {**params, "to": "2026-08-31"})
    with_advisor_large = queries_for(owner_client, {**params, "to": "2026-08-31", "advisor": book.anna.pk})

    assert Customer.objects.count() > 200
    assert small == large
    assert with_advisor_small == with_advisor_large
