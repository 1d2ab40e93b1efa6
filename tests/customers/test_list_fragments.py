"""The list pages keep their filter form, table header and paging links rendered in the
"fragments" cache ({% cache %} under filterset.fragment_key / table.fragment_key). A hit must never
show another language, another request's values or errors, or choices that have changed."""

import re

import pytest
from django.core.cache import caches
from django.urls import reverse

from tests.customers.lists import list_numbers
from tests.factories import ContractFactory, CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db


def page(client, url_name="customers:list", **params) -> str:
    response = client.get(reverse(url_name), params)
    assert response.status_code == 200
    return response.content.decode()


def selected(html: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]*)" selected>', select)


def test_a_second_request_is_served_from_the_cache_and_is_the_same(staff_client):
    CustomerFactory.create_batch(3)
    cache = caches["fragments"]

    first = page(staff_client, status="active")
    entries = len(cache._cache)
    second = page(staff_client, status="active")

    assert entries >= 2  # the filter form and the table header
    assert len(cache._cache) == entries  # nothing new rendered for the same request
    strip = lambda html: re.sub(r'value="[^"]{40,}"|"X-CSRFToken": "[^"]+"', "", html)  # noqa: E731
    assert strip(first) == strip(second)


def test_the_cached_form_and_header_follow_the_language(client):
    CustomerFactory()
    german_user, english_user = StaffFactory(language="de"), StaffFactory(language="en")
    for _round in range(2):  # the second round is served from the cache
        client.force_login(german_user)
        german = page(client)
        client.force_login(english_user)
        english = page(client)
        assert ">Suche<" in german and ">Ertrag" in german and ">Search<" not in german
        assert ">Search<" in english and ">Revenue" in english and ">Suche<" not in english


def test_the_cached_form_shows_each_requests_own_values_and_errors(staff_client):
    CustomerFactory()
    for _round in range(2):
        active = page(staff_client, status="active", plz="06")
        prospects = page(staff_client, status="prospect")
        bad = page(staff_client, min_revenue="viel")
        assert selected(active, "status") == ["active"] and 'value="06"' in active
        assert selected(prospects, "status") == ["prospect"] and 'value="06"' not in prospects
        assert "is-invalid" in bad and "is-invalid" not in active + prospects


def test_a_new_advisor_appears_in_the_cached_filter_form_at_once(staff_client):
    CustomerFactory()
    before = page(staff_client)
    StaffFactory(first_name="Neu", last_name="Beraterin")

    after = page(staff_client)

    assert "Neu Beraterin" not in before and "Neu Beraterin" in after


def test_the_cached_header_links_keep_the_filters_and_mark_the_sort(english_staff_client_any):
    CustomerFactory.create_batch(2)
    client = english_staff_client_any
    for _round in range(2):
        by_revenue = page(client, status="active", sort="-revenue")
        by_name = page(client, status="prospect")
        assert 'aria-sort="descending"' in by_revenue and "Revenue ▼" in by_revenue
        assert "status=active" in by_revenue and "status=prospect" not in by_revenue
        assert "Name ▲" in by_name and "status=prospect" in by_name and "status=active" not in by_name


def test_the_contract_list_caches_its_own_form_and_header(english_staff_client_any):
    ContractFactory()
    client = english_staff_client_any
    for _round in range(2):
        customers = page(client)
        contracts = page(client, "customers:contract_list")
        assert "Policy number" in contracts and "Policy number" not in customers
        assert 'id="contract-filter"' in contracts and 'id="customer-filter"' in customers


@pytest.fixture
def english_staff_client_any(client):
    client.force_login(StaffFactory(language="en"))
    return client


def test_the_advisor_choices_are_kept_and_read_again_after_a_change(staff_client, staff):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CustomerFactory()
    advisor = StaffFactory(first_name="Alt", last_name="Name")
    page(staff_client)

    with CaptureQueriesContext(connection) as queries:
        kept = page(staff_client)
    advisor.first_name = "Neuer"
    advisor.save()
    renamed = page(staff_client)
    advisor.is_active = False
    advisor.save()
    gone = page(staff_client)

    assert not [
        q for q in queries.captured_queries if '"first_name"' in q["sql"] and "accounts_user" in q["sql"]
    ]
    assert "Alt Name" in kept and "Neuer Name" in renamed and "Alt Name" not in renamed
    assert "Neuer Name" not in gone


def test_other_processes_read_the_choices_again_within_their_time(monkeypatch):
    from brokercrm import kept

    read = []
    choices = kept.Kept(lambda: read.append(1) or [("1", "eins")], seconds=60)
    now = [1000.0]
    monkeypatch.setattr(kept.time, "monotonic", lambda: now[0])

    assert list(choices()) == [("1", "eins")] and list(choices()) == [("1", "eins")]
    now[0] += 61
    choices()
    assert len(read) == 2


def form_builds(monkeypatch) -> list:
    """Counts the filter forms built (FilterForm.__init__)."""
    from customers.filters import FilterForm

    built = []
    original = FilterForm.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(FilterForm, "__init__", counting)
    return built


def numbers(client, **params) -> list[str]:
    return list_numbers(client.get(reverse("customers:list"), params, HTTP_HX_REQUEST="true"))


def test_filters_validated_once_are_applied_again_without_the_form(staff_client, monkeypatch):
    """Paging through a filtered list and its count line submit the same filters again: the
    values validated the first time are used, the rows are the same, and a changed value is
    validated anew."""
    mine = CustomerFactory(name="Aachen", postal_code="52062", revenue=1500)
    CustomerFactory(name="Bonn", postal_code="53111", revenue=10)
    built = form_builds(monkeypatch)

    first = numbers(staff_client, plz="52", min_revenue="1.000")
    second = numbers(staff_client, plz="52", min_revenue="1.000", page="1", sort="-revenue")
    count = staff_client.get(reverse("customers:count"), {"plz": "52", "min_revenue": "1.000"})
    assert first == second == [mine.number]
    assert count.status_code == 200 and "1 Eintrag" in count.content.decode()
    assert len(built) == 1

    assert numbers(staff_client, plz="53") != first
    assert len(built) == 2


def test_invalid_filters_are_validated_every_time(staff_client, monkeypatch):
    CustomerFactory()
    built = form_builds(monkeypatch)

    for _ in range(2):
        html = page(staff_client, min_revenue="viel")
        assert "is-invalid" in html or "invalid" in html.lower()
    assert len(built) == 2


def test_validated_filters_belong_to_their_language_and_their_list(client):
    """'1.000' is a thousand in German and one in English; the contract list's 'status' is a
    contract status, the customer list's a customer status."""
    thousand = CustomerFactory(name="Tausend", revenue=1000)
    CustomerFactory(name="Eineinhalb", revenue="1.50")
    german_user, english_user = StaffFactory(language="de"), StaffFactory(language="en")

    client.force_login(german_user)
    german = numbers(client, min_revenue="1.000")
    client.force_login(english_user)
    english = numbers(client, min_revenue="1.000")

    assert german == [thousand.number]
    assert len(english) == 2
    ContractFactory(status="1")
    assert not client.get(reverse("customers:contract_list"), {"status": "1"}).context["filter"].errors
    assert client.get(reverse("customers:list"), {"status": "1"}).context["filter"].errors


def test_validated_filters_keep_at_most_their_size_and_forget_after_their_seconds(monkeypatch):
    from customers import filters

    store = filters.ValidatedFilters(seconds=60, size=2)
    now = [1000.0]
    monkeypatch.setattr(filters.time, "monotonic", lambda: now[0])
    store.put("a", {"q": "a"})
    store.put("b", {"q": "b"})
    store.put("c", {"q": "c"})
    got = store.get("b")
    got["q"] = "changed"  # a copy: what is kept stays as validated

    assert store.get("a") is None and store.get("b") == {"q": "b"} and store.get("c") == {"q": "c"}
    now[0] += 61
    assert store.get("b") is None
