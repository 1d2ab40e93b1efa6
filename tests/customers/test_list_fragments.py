"""The list pages keep their filter form, table header and paging links rendered in the
"fragments" cache ({% cache %} under filterset.fragment_key / table.fragment_key). A hit must never
show another language, another request's values or errors, or choices that have changed."""

import re

import pytest
from django.core.cache import caches
from django.urls import reverse

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
