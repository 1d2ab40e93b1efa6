"""On PostgreSQL the customer list's search and sort orders are answered from indexes: the
expressions Django writes must match the indexes' expressions exactly, or a book of a million
customers is read in full for every search."""

from urllib.parse import urlencode

import pytest
from django.db import connection, transaction
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from customers import selectors
from customers.models import LineOfBusiness, OfficeSettings
from tests.customers.lists import list_numbers
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def plan(queryset) -> str:
    """The plan with sequential scans and sorts priced out: an index then shows up exactly when
    its expression matches the query's (and gives the order asked for, or a Sort remains)."""
    return explained(*queryset.query.sql_with_params(), off=("seqscan", "sort"))


def explained(sql: str, params=None, *, off: tuple[str, ...]) -> str:
    """EXPLAIN of `sql` (with `params`, or as captured: no placeholders) with the planner's `off`
    methods (enable_<method>) priced out."""
    with transaction.atomic(), connection.cursor() as cursor:
        for method in off:
            cursor.execute(f"SET LOCAL enable_{method} = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_search_uses_the_trigram_and_number_indexes(require_postgres):
    CustomerFactory.create_batch(5)
    count_query = selectors.customer_list(filters={"q": "Müller"}).order_by().values("pk")
    text = plan(count_query)
    for index in (
        "customer_name_key_idx",
        "customer_name_key_rest_trgm_idx",
        "customer_first_name_key_trgm_idx",
        "customer_city_trgm_idx",
        "customer_number_key_idx",
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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_count_of_a_class_and_gap_drill_down_reads_the_gap_index_alone(require_postgres):
    """Class O, biggest gap BU, PLZ 0…: counted from customer_gap_segment_idx without the table
    (its INCLUDE columns hold the conditions the index keys do not: usable, PLZ). Transactional:
    VACUUM, which sets the visibility map an index-only scan needs, runs outside a transaction."""
    bu = LineOfBusiness.objects.get(code="BU")
    CustomerFactory.create_batch(3, segment="O", biggest_gap=bu, postal_code="01067")
    CustomerFactory(segment="O", biggest_gap=bu, postal_code="20095")
    CustomerFactory(segment="C", biggest_gap=bu, postal_code="01067")
    # Many more in PLZ 0…: read by the PLZ's index instead, the count would test them all.
    CustomerFactory.create_batch(40, segment="C", postal_code="01067")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) customers_customer")
    filters = {"segment": "O", "biggest_gap": "BU", "plz": "0"}
    with CaptureQueriesContext(connection) as queries:
        assert selectors.customer_count(filters=filters, cap=1000) == 3
    (count_sql,) = [q["sql"] for q in queries.captured_queries if "customers_customer" in q["sql"]]
    text = explained(count_sql, off=("bitmapscan", "seqscan"))
    assert "Index Only Scan using customer_gap_segment_idx" in text, text


def test_a_plz_area_sorted_by_name_is_a_range_of_the_leitregion_index(require_postgres):
    CustomerFactory.create_batch(5, postal_code="06526")
    from customers.tables import CustomerTable, ordered

    page = ordered(CustomerTable, selectors.customer_list(filters={"plz": "06"}), "name")[:50]
    text = plan(page)
    assert "customer_plz_region_name_idx" in text, text
    assert "Sort" not in text.replace("Sort Key", ""), text


SEARCHED_SORTS = ["name", "-name", "place", "-place"]


def searched_numbers(client, sort: str, q: str = "Müller") -> list[str]:
    return list_numbers(client.get("/customers/", {"q": q, "sort": sort}, HTTP_HX_REQUEST="true"))


def make_muellers() -> None:
    for i, (name, first, plz) in enumerate(
        [("Müller", "Zoe", "99084"), ("Müller", "Anna", "06526"), ("Müller-Lang", "Bert", "10115"),
         ("Adler", "Müller", "80331"), ("Schmüller", "Carl", "01067"), ("Müller", "Anna", "20095")]
    ):  # fmt: skip
        CustomerFactory(number=f"K{i}", name=name, first_name=first, postal_code=plz, kind="person")
    CustomerFactory(name="Zander")


@pytest.mark.parametrize("sort", SEARCHED_SORTS)
def test_a_search_sorted_after_it_is_found_keeps_the_order(staff_client, monkeypatch, sort):
    """Found first and sorted then (a search of few matches) or walked along the sort's index:
    the same rows in the same order, ties broken by id."""
    make_muellers()
    monkeypatch.setattr(selectors, "search_sorts_matches", lambda rows, key=None: False)
    walked = searched_numbers(staff_client, sort)
    monkeypatch.setattr(selectors, "search_sorts_matches", lambda rows, key=None: True)
    found_then_sorted = searched_numbers(staff_client, sort)

    assert len(walked) == 6
    assert found_then_sorted == walked
    if sort == "name":
        assert walked[:3] == ["K3", "K1", "K5"]  # Adler; Müller Anna (K1 before K5); Müller Zoe


def test_a_search_of_few_matches_is_sorted_after_it_is_found(require_postgres, staff_client):
    """On PostgreSQL the planner's estimate decides; the fence is the first sort key. (A search
    of more than one word sorted by name; one word is merged, see test_name_keys.py.)"""
    make_muellers()
    with CaptureQueriesContext(connection) as few:
        assert searched_numbers(staff_client, "name", q="Müller Anna") == ["K1", "K5"]
    with CaptureQueriesContext(connection) as by_revenue:
        searched_numbers(staff_client, "-revenue", q="Müller Anna")

    (explain,) = [q["sql"] for q in few.captured_queries if q["sql"].startswith("EXPLAIN")]
    (rows,) = [
        q["sql"] for q in few.captured_queries if q["sql"].startswith('SELECT "customers_customer"."id"')
    ]
    assert "CONCAT" in rows.split("ORDER BY")[1].upper() or "||" in rows.split("ORDER BY")[1]
    assert "LIMIT" not in explain  # the estimate of all matches, not of a page
    assert not [q for q in by_revenue.captured_queries if q["sql"].startswith("EXPLAIN")]


def test_a_search_of_very_many_matches_walks_the_name_index(require_postgres, staff_client, monkeypatch):
    make_muellers()
    monkeypatch.setattr(selectors, "FEW_MATCHES", 0)
    with CaptureQueriesContext(connection) as many:
        numbers = searched_numbers(staff_client, "name", q="Müller Anna")

    rows = [
        q["sql"] for q in many.captured_queries if q["sql"].startswith('SELECT "customers_customer"."id"')
    ]
    assert numbers == ["K1", "K5"]
    order = rows[0].split("ORDER BY")[1]
    # name key, first name key, id: the index's order, without a fence
    assert order.count('COLLATE "C"') == 2 and "||" not in order, order


def test_the_estimate_of_a_search_is_asked_once_for_its_pages_and_sorts(require_postgres, staff_client):
    """selectors.match_estimate keeps PostgreSQL's estimate per query: the pages and sorts of a
    search ask the same one; another search, or a customer saved, asks again."""
    make_muellers()

    def explains(sort: str, q: str = "Müller Anna") -> tuple[list[str], int]:
        with CaptureQueriesContext(connection) as queries:
            numbers = searched_numbers(staff_client, sort, q)
        return numbers, sum(query["sql"].startswith("EXPLAIN") for query in queries.captured_queries)

    assert explains("name") == (["K1", "K5"], 1)
    assert explains("-name") == (["K5", "K1"], 0)
    assert explains("place") == (["K1", "K5"], 0)  # 06526 before 20095
    assert explains("name", q="Schmüller")[1] == 1

    CustomerFactory(number="K9", name="Müller", first_name="Anna", postal_code="01067", kind="person")
    assert explains("place") == (["K9", "K1", "K5"], 1)


def test_a_kept_estimate_belongs_to_the_filters_and_to_who_sees_which_customers(
    require_postgres, staff_client, staff, owner
):
    """The estimate is kept by selectors.list_key: the same filters on another page or sort
    share it, other filters do not, and neither does a user who sees only their own customers
    (the office setting) share it with one who sees the whole book."""
    make_muellers()
    CustomerFactory(
        number="K7", name="Müller", first_name="Anna", postal_code="80331", kind="person", advisor=staff
    )

    def explains(q: str = "Müller Anna", sort: str = "name", page: str = "1") -> tuple[list[str], int]:
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(
                "/customers/", {"q": q, "sort": sort, "page": page}, HTTP_HX_REQUEST="true"
            )
        explained = sum(query["sql"].startswith("EXPLAIN") for query in queries.captured_queries)
        return list_numbers(response), explained

    assert explains() == (["K1", "K5", "K7"], 1)
    assert explains(sort="place", page="2") == (["K1", "K5", "K7"], 0)  # no page 2: the last one
    assert explains(q="Anna Müller") == (["K1", "K5", "K7"], 1)

    OfficeSettings.objects.update_or_create(pk=1, defaults={"staff_sees_own_customers_only": True})
    assert explains() == (["K7"], 1)  # the staff member's own customers now: asked anew
    assert explains(sort="-name") == (["K7"], 0)

    def key(user, **filters):
        return selectors.list_key(
            selectors.customer_filter(filters=QueryDict(urlencode(filters)), user=user), user
        )

    assert key(staff, q="Müller", page="3", sort="name") == key(staff, q="Müller")
    assert key(staff, q="Müller") != key(owner, q="Müller") != key(owner, q="Müller", status="active")
