"""Names as the customer list sorts and searches them (customers.querysets.name_key): any case,
umlauts and ß spelled out (DIN 5007, variant 2), and a one-word search sorted by name merged
from the customers whose name starts with the word and all others (CustomerTable.order_name)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import selectors, tables
from customers.models import Customer
from tests.customers.lists import list_numbers
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def names_in_list(client, **params) -> list[str]:
    numbers = list_numbers(client.get("/customers/", params, HTTP_HX_REQUEST="true"))
    by_number = dict(Customer.objects.values_list("number", "name"))
    return [by_number[number] for number in numbers]


def test_the_key_is_kept_by_the_database_on_every_save():
    customer = CustomerFactory(name="Weiß", first_name="Jürgen")
    customer.refresh_from_db()
    assert (customer.name_key, customer.first_name_key) == ("WEISS", "JUERGEN")
    customer.name = "Öztürk"
    customer.save()
    customer.refresh_from_db()
    assert customer.name_key == "OEZTUERK"


def test_umlauts_sort_as_spelled_out_and_case_does_not_matter(staff_client):
    for name in ["Zander", "Ärger", "Adler", "müller", "Mueller", "Müller", "Muster", "Aebi"]:
        CustomerFactory(name=name, first_name="", kind="company")

    # The three spellings of MUELLER tie, and are then in the order they were entered (by id).
    assert names_in_list(staff_client, sort="name") == [
        "Adler", "Aebi", "Ärger", "müller", "Mueller", "Müller", "Muster", "Zander"
    ]  # fmt: skip
    assert names_in_list(staff_client, sort="-name")[0] == "Zander"


@pytest.mark.parametrize("typed", ["Müller", "MUELLER", "mueller", "müll"])
def test_either_spelling_finds_the_other(staff_client, typed):
    for name in ["Müller", "Mueller", "Schmüller", "Miller"]:
        CustomerFactory(name=name, first_name="", kind="company")

    assert sorted(names_in_list(staff_client, q=typed)) == ["Mueller", "Müller", "Schmüller"]


def make_book() -> None:
    """Names that start with the word, contain it, or match it elsewhere (first name, city),
    spread over the alphabet before and after the word, with ties on name and first name."""
    rows = [
        ("Adler", "Bernd", "Berlin"), ("Bauer", "Müllerin", "Köln"), ("Müller", "Anna", "Bonn"),
        ("Müller", "Anna", "Jena"), ("MÜLLER", "Zoe", "Halle"), ("Mueller", "Carl", "Gera"),
        ("Müller-Lang", "Eva", "Kiel"), ("Schmüller", "Ida", "Ulm"), ("Zahn", "Otto", "Müllrose"),
        ("Zander", "Paul", "Müllheim"), ("Meier", "Müller", "Rostock"), ("Müllerson", "Ute", "Hof"),
    ]  # fmt: skip
    for i, (name, first_name, city) in enumerate(rows * 2):
        CustomerFactory(number=f"K{i:02}", name=name, first_name=first_name, city=city, kind="person")
    CustomerFactory.create_batch(5)


@pytest.mark.parametrize("sort", ["name", "-name"])
@pytest.mark.parametrize("word", ["Müller", "müll", "k05", "Zoe"])
def test_a_merged_search_has_the_rows_and_order_of_the_whole_sorted_list(staff_client, sort, word):
    """Page by page (3 rows a page), the merged list is the searched list sorted as a whole."""
    make_book()
    whole = tables.ordered(tables.CustomerTable, selectors.customer_list(filters={"q": word}), sort)
    expected = list(whole.values_list("number", flat=True))
    assert expected, word

    paged = []
    for page in range(1, len(expected) // 3 + 2):
        response = staff_client.get(
            "/customers/", {"q": word, "sort": sort, "page": page, "per_page": 3}, HTTP_HX_REQUEST="true"
        )
        if response.status_code == 200:
            paged += list_numbers(response)
    assert paged[: len(expected)] == expected


@pytest.mark.parametrize("word", ["Müller", "müll", "k05", "Zoe", "nobody"])
def test_the_count_of_a_merged_search_is_the_count_of_its_matches(word):
    make_book()
    rows = selectors.customer_list(filters={"q": word})
    expected = rows.count()
    assert selectors.capped_count(rows, 1000, [word]) == expected
    assert selectors.capped_count(rows, 3, [word]) == min(expected, 4)


@pytest.mark.parametrize("word", ["Müller", "müll", "k05", "nobody"])
def test_the_count_line_of_a_search_counts_its_matches_with_the_other_filters(staff_client, word):
    """The count line counts a one-word search in its two parts from the list without the
    search (selectors.customer_count): the other filters and the restricted customers still apply."""
    make_book()
    Customer.objects.filter(number__in=["K02", "K06", "K13"]).update(status="former")
    Customer.objects.filter(number__in=["K03", "K14"]).update(restricted_at="2026-01-05")
    filters = {"q": word, "status": "active"}
    expected = Customer.objects.usable().active().search(word).count()

    assert selectors.customer_count(filters=filters, cap=1000) == expected
    assert selectors.customer_count(filters=filters, cap=2) == min(expected, 3)
    assert selectors.customer_count(filters={**filters, "min_revenue": "viel"}, cap=1000) == 0
    summary = staff_client.get("/customers/count/", filters, HTTP_HX_REQUEST="true").context["summary"]
    assert summary["count"] == expected
    if word == "Müller":
        assert expected == 13  # 18 match (names and first names); 3 former, 2 restricted


def test_on_postgresql_a_page_of_a_common_surname_is_read_in_name_order(require_postgres, staff_client):
    """The customers whose name starts with the word come from customer_name_key_idx in its
    order (no sort of all of them); the others are found through the search's indexes."""
    make_book()
    with CaptureQueriesContext(connection) as queries:
        staff_client.get("/customers/", {"q": "Müller"}, HTTP_HX_REQUEST="true")
    (rows,) = [q["sql"] for q in queries.captured_queries if "UNION ALL" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + rows)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Merge Append" in plan, plan
    assert "Index Scan using customer_name_key_idx" in plan, plan


def test_on_postgresql_a_word_of_very_many_matches_walks_the_name_order(
    require_postgres, staff_client, monkeypatch
):
    """Matches every few customers ("ann": 14 % of a book): walking the name order finds a page
    at once, so nothing is merged or sorted."""
    make_book()
    monkeypatch.setattr(selectors, "FEW_MATCHES", 0)
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get("/customers/", {"q": "Müller"}, HTTP_HX_REQUEST="true")
    assert not [q for q in queries.captured_queries if "UNION" in q["sql"]]
    whole = tables.ordered(tables.CustomerTable, selectors.customer_list(filters={"q": "Müller"}), "name")
    assert list_numbers(response) == list(whole.values_list("number", flat=True))[: tables.PER_PAGE]


def test_the_names_starting_with_the_word_are_read_without_the_search_condition(staff_client):
    """Given the list without its search, the first part asks only for the name's start (the
    search's other fields would make PostgreSQL think it far rarer than it is), and still holds
    exactly the matches whose name starts with the word."""
    from django.http import QueryDict

    from customers.querysets import name_start_split

    make_book()
    filterset = selectors.customer_filter(filters=QueryDict("q=Müller&status=active"))
    at_start, elsewhere = name_start_split(filterset.qs, "Müller", filterset.qs_without("q"))
    where = str(at_start.query).split("WHERE")[1].split("ORDER BY")[0]
    assert "first_name" not in where and "city" not in where and "status" in where
    matches = set(filterset.qs.values_list("number", flat=True))
    parts = set(at_start.values_list("number", flat=True)), set(elsewhere.values_list("number", flat=True))
    assert parts[0] | parts[1] == matches and not parts[0] & parts[1]
    assert parts[0] == {c.number for c in filterset.qs if c.name_key.startswith("MUELLER")}


@pytest.mark.parametrize(
    ("typed", "found"),
    [("jürgen", "K2"), ("Juergen", "K2"), ("JÜRGEN", "K2"), ("köln", "K1"), ("weißen", "K3"), ("Mühl", "K4")],
)
def test_the_first_name_is_searched_by_its_key_the_city_as_written(staff_client, typed, found):
    """The first name like the name ("Juergen" finds Jürgen); the city contains the word in any
    case, as written ("köln" finds Köln)."""
    CustomerFactory(number="K1", name="Adler", first_name="Bernd", city="Köln", kind="person")
    CustomerFactory(number="K2", name="Bauer", first_name="Jürgen", city="Bonn", kind="person")
    CustomerFactory(number="K3", name="Cramer", first_name="Eva", city="Weißenfels", kind="person")
    CustomerFactory(number="K4", name="Dietz", first_name="Ida", city="Bad Mühlhausen", kind="person")
    CustomerFactory(number="K5", name="Engel", first_name="Otto", city="Kiel", kind="person")

    assert list_numbers(staff_client.get("/customers/", {"q": typed}, HTTP_HX_REQUEST="true")) == [found]


@pytest.mark.parametrize("typed", ["k0000042", "K0000042"])
def test_the_number_is_found_in_any_case(staff_client, typed):
    CustomerFactory(number="K0000042", name="Adler", kind="company")
    CustomerFactory(number="K0000043", name="Bauer", kind="company")

    assert list_numbers(staff_client.get("/customers/", {"q": typed}, HTTP_HX_REQUEST="true")) == ["K0000042"]
    assert Customer.objects.get(number="K0000042").number_key == "K0000042"
