"""Customers restricted after an erasure request (Art. 18 DSGVO) never appear in the
dashboards' lists (drill-downs, their CSV, the scatter and its table); the figures (counts,
sums) still count them, and the drill-down says how many it leaves out."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from customers import privacy
from customers.models import Customer
from dashboards import selectors, services
from dashboards.models import RunSnapshot
from dashboards.selectors import Filters

from .conftest import FIRST_RUN, SECOND_RUN, SNAPSHOT_AT

pytestmark = pytest.mark.django_db
PERIOD = {"from": FIRST_RUN.isoformat(), "to": SECOND_RUN.isoformat()}


def restrict(customer: Customer) -> None:
    """Restricted as an erasure request leaves a customer whose data must be retained."""
    Customer.objects.filter(pk=customer.pk).update(restricted_at=timezone.localdate())


@pytest.fixture
def english(owner):
    owner.language = "en"
    owner.save(update_fields=["language"])


def test_migration_drilldown_leaves_out_restricted_customers_but_the_cell_counts_them(book):
    filters = Filters(date_from=FIRST_RUN, date_to=SECOND_RUN)
    restrict(book.c["o2"])
    snapshot = services.snapshot_ensure(run=book.second_run)

    cell = selectors.migration(filters=filters, snapshot=snapshot).cells[("O", "O")]
    listed = selectors.migration_customers(filters=filters, old="O", new="O")
    hidden = selectors.migration_customers(filters=filters, old="O", new="O", restricted=True)

    assert list(listed) == [book.c["o3"]]
    assert list(hidden) == [book.c["o2"]]
    assert cell == 2 == listed.count() + hidden.count()


def test_the_drilldown_page_and_csv_never_show_a_restricted_customer(book, owner_client, english):
    restrict(book.c["o2"])
    url = reverse("dashboards:migration_customers")

    page = owner_client.get(url, {**PERIOD, "old": "O", "new": "O"})
    html = page.content.decode()
    assert [c.pk for c in page.context["page"]] == [book.c["o3"].pk]
    assert book.c["o2"].number not in html
    assert page.context["restricted"] == 1
    assert "The figure also counts 1 customer whose data is restricted" in html

    response = owner_client.get(url, {**PERIOD, "old": "O", "new": "O", "format": "csv"})
    rows = list(
        csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";")
    )
    assert [r[0] for r in rows[1:]] == [book.c["o3"].number]


def test_without_restricted_customers_no_note_is_shown(book, owner_client, english):
    page = owner_client.get(reverse("dashboards:migration_customers"), {**PERIOD, "old": "O", "new": "O"})
    assert page.context["restricted"] == 0
    assert 'id="drilldown-restricted"' not in page.content.decode()


def test_density_cell_drilldown_leaves_out_restricted_customers(book, owner_client, monkeypatch):
    monkeypatch.setattr(selectors, "SCATTER_LIMIT", 3)
    restrict(book.c["b1"])
    snapshot = RunSnapshot.objects.get(run=book.second_run)
    filters = Filters(date_from=FIRST_RUN, date_to=SECOND_RUN)
    bins = selectors.density_bins(snapshot=snapshot, filters=filters)
    total = listed = 0
    for b in bins:
        if b["segment"] != "B":
            continue
        total += b["n"]
        page = owner_client.get(
            reverse("dashboards:bin_customers"),
            {**PERIOD, "snapshot": snapshot.pk, "segment": "B", "x": b["x"], "y": b["y"]},
        )
        pks = [c.pk for c in page.context["page"]]
        assert book.c["b1"].pk not in pks
        listed += len(pks) + page.context["restricted"]
    assert total == listed == 3  # b1, b2, c2 are B after the second run; b1 is counted, not listed


def test_scatter_and_points_table_leave_out_restricted_customers(book, owner_client):
    restrict(book.c["a1"])
    points = selectors.scatter_points(filters=Filters(date_from=FIRST_RUN, date_to=SECOND_RUN))
    assert book.c["a1"].pk not in [p["id"] for p in points]
    assert book.c["o1"].pk in [p["id"] for p in points]

    html = owner_client.get(reverse("dashboards:points"), PERIOD).content.decode()
    assert book.c["a1"].number not in html and book.c["o1"].number in html


def test_a_customer_erased_through_the_service_is_not_listed(book, owner):
    privacy.customer_erase(customer=book.c["o1"], received_on=SNAPSHOT_AT.date(), reason="Wunsch", by=owner)
    filters = Filters(date_from=FIRST_RUN, date_to=SECOND_RUN)
    for old in selectors.MATRIX_CLASSES:
        for new in selectors.MATRIX_CLASSES:
            assert book.c["o1"] not in selectors.migration_customers(filters=filters, old=old, new=new)
    assert book.c["o1"].pk not in [p["id"] for p in selectors.scatter_points(filters=filters)]
