"""The main menu (base.html) is kept rendered per nav_key: each user still sees their own name,
the entries of their role, the active entry of the page and their language, and the forms in
it carry this request's token and page."""

import re

import pytest
from django.urls import reverse

from tests.factories import OwnerFactory, StaffFactory

pytestmark = pytest.mark.django_db


def menu(client, url_name="customers:list") -> str:
    html = client.get(reverse(url_name)).content.decode()
    return html[html.index('<nav class="navbar') : html.index("</nav>")]


def test_each_user_sees_their_own_menu_from_the_cache(client):
    owner = OwnerFactory(first_name="Olga", last_name="Inhaber", language="de")
    staff = StaffFactory(first_name="Ina", last_name="Innen", language="en")
    for _round in range(2):  # the second round is served from the cache
        client.force_login(owner)
        owners = menu(client)
        client.force_login(staff)
        staffs = menu(client)
        assert "Olga Inhaber" in owners and "Segmentierung" in owners and "Büroeinstellungen" in owners
        assert "Ina Innen" in staffs and "Customers" in staffs
        assert "Segmentation" not in staffs and "Office settings" not in staffs and "Olga" not in staffs
        assert '<option value="en" selected>' in staffs and '<option value="de" selected>' in owners


def test_the_active_entry_and_the_page_to_return_to_follow_the_page(client):
    client.force_login(StaffFactory(language="en"))
    for _round in range(2):
        customers = menu(client, "customers:list")
        contracts = menu(client, "customers:contract_list")
        assert re.search(r'nav-link active" href="/customers/"', customers)
        assert re.search(r'nav-link active" href="/customers/contracts/"', contracts)
        assert 'name="next" value="/customers/contracts/"' in contracts
        assert 'name="next" value="/customers/"' in customers


def test_the_forms_in_the_menu_carry_this_requests_token(client):
    client.force_login(StaffFactory())
    tokens = []
    for _round in range(2):
        found = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', menu(client))
        assert len(found) == 2  # language and logout
        tokens.append(found)
    assert tokens[0] != tokens[1]  # masked afresh for each request, not kept


def test_a_renamed_user_sees_the_new_name(client):
    staff = StaffFactory(first_name="Alt", last_name="Name")
    client.force_login(staff)
    assert "Alt Name" in menu(client)
    staff.first_name = "Neu"
    staff.save()
    assert "Neu Name" in menu(client) and "Alt Name" not in menu(client)
