import pytest
from django.urls import reverse

from brokercrm.accounts.roles import OWNER_PERMISSION
from customers.templatetags.crm import money


@pytest.mark.django_db
def test_every_page_needs_login(client):
    response = client.get("/customers/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_roles_exist_with_their_permissions(owner, staff):
    assert owner.has_perm(OWNER_PERMISSION)
    assert owner.has_perm("customers.delete_customer")
    assert not staff.has_perm(OWNER_PERMISSION)
    assert staff.has_perm("customers.change_customer")
    assert not staff.has_perm("accounts.add_user")


@pytest.mark.django_db
def test_login_page_is_german_by_default(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Anmelden" in response.content.decode()


@pytest.mark.django_db
def test_user_switches_language_to_english(staff_client, staff):
    response = staff_client.post(
        reverse("language_update"), {"language": "en", "next": "/accounts/password/"}
    )
    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.language == "en"
    page = staff_client.get(reverse("password_change")).content.decode()
    assert "Change password" in page


@pytest.mark.django_db
def test_password_change(staff_client, staff):
    from tests.factories import PASSWORD

    response = staff_client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Neues-Passwort-77",
            "new_password2": "Neues-Passwort-77",
        },
    )
    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.check_password("Neues-Passwort-77")


def test_money_is_german():
    from django.utils import translation

    with translation.override("de"):
        assert money("1234.56") == "1.234,56\u00a0€"
        assert money("-22.5") == "-22,50\u00a0€"


@pytest.mark.django_db
def test_ids_stay_plain_digits_and_german_grouped_input_is_read(staff_client):
    from django.template import Context, Template
    from django.utils import translation

    from customers.forms import ContractForm  # noqa: F401  (forms use Django's DecimalField)

    with translation.override("de"):
        rendered = Template("{{ n }}|{% load crm %}{{ m|money }}").render(Context({"n": 1621, "m": 1234.5}))
        assert rendered == "1621|1.234,50\u00a0€"
        from django import forms

        field = forms.DecimalField(localize=True)
        assert str(field.clean("1.234,56")) == "1234.56"
        assert str(field.clean("12,5")) == "12.5"
