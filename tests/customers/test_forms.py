"""Bad input: every rule puts its message at the field it is about, and nothing is saved."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers import services
from customers.forms import BookingForm, ContractForm, CustomerForm
from customers.models import CommissionBooking, Contract, Customer
from tests.factories import ContractFactory, CustomerFactory, InsurerFactory

pytestmark = pytest.mark.django_db


def customer_post(**overrides):
    data = {
        "kind": "person",
        "salutation": "2",
        "first_name": "Erika",
        "name": "Mustermann",
        "birth_date": "04.03.1975",
        "email": "erika@example.org",
        "street": "Markt 1",
        "postal_code": "06526",
        "city": "Sangerhausen",
        "country": "DE",
        "status": "active",
        "cars": "1",
        "children": "0",
    }
    return {**data, **overrides}


def contract_post(insurer, **overrides):
    data = {
        "insurer": str(insurer.pk),
        "line_of_business": "041",
        "policy_number": "PHV-100",
        "status": "1",
        "start_date": "01.01.2025",
        "main_due_date": "01.01.2025",
        "notice_period_months": "3",
        "payment_frequency": "1",
        "annual_premium": "89,00",
    }
    return {**data, **overrides}


# --- customer ---------------------------------------------------------------------------------


def test_valid_customer_form():
    form = CustomerForm(data=customer_post())

    assert form.is_valid(), form.errors


@pytest.mark.parametrize("plz", ["1234", "123456", "0651A", "00123"])
def test_invalid_german_plz_is_an_error_at_the_field(plz):
    form = CustomerForm(data=customer_post(postal_code=plz))

    assert not form.is_valid()
    assert list(form.errors) == ["postal_code"]
    assert form.has_error("postal_code", "invalid_plz")


def test_postal_codes_of_other_countries_are_free():
    form = CustomerForm(data=customer_post(postal_code="A-1010", country="at"))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["country"] == "AT"


def test_invalid_email_is_an_error_at_the_field():
    form = CustomerForm(data=customer_post(email="erika(at)example"))

    assert list(form.errors) == ["email"]
    assert form.has_error("email", "invalid")


def test_birth_date_in_the_future_is_an_error_at_the_field():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    form = CustomerForm(data=customer_post(birth_date=tomorrow.strftime("%d.%m.%Y")))

    assert list(form.errors) == ["birth_date"]
    assert form.has_error("birth_date", "future")


def test_customer_referring_themselves_is_an_error_at_the_field():
    customer = CustomerFactory()

    form = CustomerForm(
        instance=customer, data=customer_post(referred_by=customer.number, version=str(customer.version))
    )

    assert list(form.errors) == ["referred_by"]
    assert form.errors["referred_by"] == [str(services.SELF_REFERRAL)]
    assert form.has_error("referred_by", "self_referral")


def test_unknown_referrer_number_is_an_error_at_the_field():
    form = CustomerForm(data=customer_post(referred_by="K9999999"))

    assert list(form.errors) == ["referred_by"]
    assert form.has_error("referred_by", "not_found")


def test_referrer_number_is_found_case_insensitively():
    referrer = CustomerFactory(number="K0000077")

    form = CustomerForm(data=customer_post(referred_by="k0000077"))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["referred_by"] == referrer


def test_duplicate_customer_number_is_an_error_at_the_field():
    CustomerFactory(number="K0000001")

    form = CustomerForm(data=customer_post(number="K0000001"))

    assert list(form.errors) == ["number"]
    assert form.has_error("number", "unique")


def test_household_and_new_household_together_is_an_error():
    partner = CustomerFactory()

    form = CustomerForm(data=customer_post(household=partner.number, new_household="Neu"))

    assert list(form.errors) == ["new_household"]
    assert form.has_error("new_household", "both")


def test_edit_form_carries_the_version_as_hidden_field():
    customer = CustomerFactory()
    Customer.objects.filter(pk=customer.pk).update(version=7)
    customer.refresh_from_db()

    form = CustomerForm(instance=customer)

    assert 'type="hidden" name="version" value="7"' in str(form["version"])
    assert "number" not in form.fields


def test_edit_form_without_version_is_invalid():
    customer = CustomerFactory()

    form = CustomerForm(instance=customer, data=customer_post())

    assert "version" in form.errors


# --- contract ---------------------------------------------------------------------------------


def contract_form(data, customer=None, instance=None):
    return ContractForm(data=data, instance=instance or Contract(customer=customer or CustomerFactory()))


def test_valid_contract_form_reads_german_decimals():
    form = contract_form(contract_post(InsurerFactory(), annual_premium="1.234,56"))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["annual_premium"] == Decimal("1234.56")
    assert form.cleaned_data["line_of_business"].code == "041"


def test_end_before_start_is_an_error_at_the_end_date():
    form = contract_form(contract_post(InsurerFactory(), end_date="31.12.2024"))

    assert list(form.errors) == ["end_date"]
    assert form.errors["end_date"] == [str(services.END_BEFORE_START)]
    assert form.has_error("end_date", "end_before_start")


def test_negative_premium_is_an_error_at_the_field():
    form = contract_form(contract_post(InsurerFactory(), annual_premium="-10,00"))

    assert list(form.errors) == ["annual_premium"]
    assert form.has_error("annual_premium", "negative")


def test_duplicate_policy_number_at_the_same_insurer_is_an_error_at_the_field():
    existing = ContractFactory(policy_number="PHV-100")

    form = contract_form(contract_post(existing.insurer))

    assert list(form.errors) == ["policy_number"]
    assert form.errors["policy_number"] == [str(services.DUPLICATE_POLICY)]
    assert form.has_error("policy_number", "duplicate_policy")


def test_same_policy_number_at_another_insurer_is_fine():
    ContractFactory(policy_number="PHV-100")

    form = contract_form(contract_post(InsurerFactory()))

    assert form.is_valid(), form.errors


def test_editing_a_contract_keeps_its_own_policy_number():
    contract = ContractFactory(policy_number="PHV-100")

    form = contract_form(contract_post(contract.insurer, version="1"), instance=contract)

    assert form.is_valid(), form.errors


def test_unknown_sparte_code_is_an_error_at_the_field():
    form = contract_form(contract_post(InsurerFactory(), line_of_business="999"))

    assert list(form.errors) == ["line_of_business"]
    assert form.has_error("line_of_business", "invalid_choice")
    assert "999" in form.errors["line_of_business"][0]


@pytest.mark.parametrize("months", ["-1", "13", "24"])
def test_notice_period_out_of_range_is_an_error_at_the_field(months):
    form = contract_form(contract_post(InsurerFactory(), notice_period_months=months))

    assert list(form.errors) == ["notice_period_months"]
    assert form.has_error("notice_period_months", "max_value" if int(months) > 12 else "min_value")
    assert "12" in form.errors["notice_period_months"][0]


def test_main_due_date_defaults_to_the_start():
    form = contract_form(contract_post(InsurerFactory(), main_due_date=""))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["main_due_date"] == dt.date(2025, 1, 1)


def test_edit_form_shows_the_sparte_code_and_offers_the_codes():
    contract = ContractFactory()

    html = str(ContractForm(instance=contract)["line_of_business"])

    assert 'value="041"' in html
    assert "<datalist" in html and '<option value="050"' in html


# --- booking ----------------------------------------------------------------------------------


def booking_post(contract, **overrides):
    data = {
        "contract": str(contract.pk),
        "booked_on": "01.03.2026",
        "kind": "recurring",
        "amount": "22,25",
        "statement_reference": "AB-1",
    }
    return {**data, **overrides}


def test_booking_form_offers_only_the_customers_contracts():
    own = ContractFactory()
    ContractFactory()

    form = BookingForm(customer=own.customer)

    assert list(form.fields["contract"].queryset) == [own]


def test_booking_on_a_contract_of_another_customer_is_an_error_at_the_field():
    other = ContractFactory()
    customer = ContractFactory().customer

    form = BookingForm(customer=customer, data=booking_post(other))

    assert list(form.errors) == ["contract"]
    assert form.has_error("contract", "invalid_choice")
    assert not CommissionBooking.objects.exists()


@pytest.mark.parametrize(
    ("kind", "amount", "code"),
    [("clawback", "10,00", "sign"), ("recurring", "-10,00", "sign"), ("acquisition", "0", "zero")],
)
def test_booking_amount_sign_must_fit_the_kind(kind, amount, code):
    contract = ContractFactory()

    form = BookingForm(customer=contract.customer, data=booking_post(contract, kind=kind, amount=amount))

    assert list(form.errors) == ["amount"]
    assert form.has_error("amount", code)


def test_valid_clawback():
    contract = ContractFactory()

    form = BookingForm(
        customer=contract.customer, data=booking_post(contract, kind="clawback", amount="-44,50")
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == Decimal("-44.50")


def test_filter_forms_of_two_requests_share_no_field_or_widget():
    """The filter form skips its deep copy of the fields (customers.filters): each FilterSet
    makes its own, so an error marked on one request's form never shows on another's."""
    from customers.filters import CustomerFilter

    bad = CustomerFilter(data={"min_revenue": "viel", "status": "active"}, queryset=Customer.objects.all())
    good = CustomerFilter(data={"status": "active"}, queryset=Customer.objects.all())

    assert not bad.form.is_valid() and good.form.is_valid()
    for name, field in bad.form.fields.items():
        assert field is not good.form.fields[name]
        assert field.widget is not good.form.fields[name].widget
    assert "is-invalid" in bad.form.fields["min_revenue"].widget.attrs["class"]
    assert "is-invalid" not in good.form.fields["min_revenue"].widget.attrs["class"]
    assert "selected>" in str(good.form["status"]) and "is-invalid" not in str(good.form["min_revenue"])


def test_filter_selects_render_in_the_language_of_the_request_with_its_selection():
    """FastSelect keeps the <option>s of fixed choices per language and selection
    (customers.filters.FixedChoices): a cached German rendering never reaches an English page,
    and a selection never sticks to the next request."""
    from django.utils import translation

    from customers.filters import CustomerFilter

    def status_select(data: dict, language: str) -> str:
        with translation.override(language):
            return str(CustomerFilter(data=data, queryset=Customer.objects.all()).form["status"])

    for _round in range(2):  # the second round is served from the cache
        german = status_select({"status": "active"}, "de")
        english = status_select({}, "en")
        assert '<option value="active" selected>aktiv</option>' in german
        assert '<option value="prospect">Interessent</option>' in german
        assert (
            '<option value="active">active</option>' in english
            and "selected" not in english.split("</option>", 1)[1]
        )
        assert "aktiv" not in english
        unselected = status_select({"segment": "none"}, "de")  # no status chosen: the empty option
        assert unselected.count(" selected") == 1 and '<option value="" selected>' in unselected
        segment = str(
            CustomerFilter(data={"segment": "none"}, queryset=Customer.objects.all()).form["segment"]
        )
        assert '<option value="none" selected>' in segment


def test_filtersets_of_two_requests_share_no_filter_state():
    """Each FilterSet copies its class's filters shallowly (customers.filters._BaseFilters):
    the choices set for one request, the method's FilterSet and the form field stay its own."""
    from customers.filters import CustomerFilter

    first = CustomerFilter(data={"segment": "none"}, queryset=Customer.objects.all())
    second = CustomerFilter(data={"segment": "A"}, queryset=Customer.objects.all())

    for name, own in first.filters.items():
        other = second.filters[name]
        assert own is not other and own.extra is not other.extra
        assert own.parent is first and other.parent is second
        assert own.field is not other.field
    assert first.filters["segment"].filter.f is first.filters["segment"]
    first.filters["advisor"].extra["choices"] = ("changed",)
    assert second.filters["advisor"].extra["choices"] != ("changed",)
    assert CustomerFilter.base_filters["advisor"].extra.get("choices") is None
    CustomerFactory(segment="")
    CustomerFactory(segment="A")
    assert [c.segment for c in first.qs] == [""] and [c.segment for c in second.qs] == ["A"]
