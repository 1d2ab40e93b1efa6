"""On PostgreSQL the customer list's search and sort orders are answered from indexes: the
expressions Django writes must match the indexes' expressions exactly, or a book of a million
customers is read in full for every search."""

import pytest
from django.db import connection

from customers import selectors
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def plan(queryset) -> str:
    """The plan with sequential scans and sorts priced out: an index then shows up exactly when
    its expression matches the query's (and gives the order asked for, or a Sort remains)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_search_uses_the_trigram_and_number_indexes(require_postgres):
    CustomerFactory.create_batch(5)
    count_query = selectors.customer_list(filters={"q": "Müller"}).order_by().values("pk")
    text = plan(count_query)
    for index in (
        "customer_name_trgm_idx",
        "customer_first_name_trgm_idx",
        "customer_city_trgm_idx",
        "customer_number_upper_idx",
    ):
        assert index in text, text


@pytest.mark.parametrize(
    "sort, index",
    [("-revenue", "customer_revenue_idx"), ("-potential", "customer_potential_idx")],
)
def test_a_sorted_page_is_an_index_scan_without_a_sort(require_postgres, sort, index):
    CustomerFactory.create_batch(5)
    from customers.tables import CustomerTable, ordered

    page = ordered(CustomerTable, selectors.customer_list(filters={}), sort)[:50]
    text = plan(page)
    assert index in text, text
    assert "Sort" not in text.replace("Sort Key", ""), text


def test_a_class_sorted_by_potential_uses_the_class_index(require_postgres):
    CustomerFactory.create_batch(5, segment="O")
    from customers.tables import CustomerTable, ordered

    page = ordered(CustomerTable, selectors.customer_list(filters={"segment": "O"}), "-potential")[:50]
    text = plan(page)
    assert "customer_segment_potential_idx" in text, text


def test_a_plz_area_sorted_by_name_is_a_range_of_the_leitregion_index(require_postgres):
    CustomerFactory.create_batch(5, postal_code="06526")
    from customers.tables import CustomerTable, ordered

    page = ordered(CustomerTable, selectors.customer_list(filters={"plz": "06"}), "name")[:50]
    text = plan(page)
    assert "customer_plz_region_name_idx" in text, text
    assert "Sort" not in text.replace("Sort Key", ""), text
