"""Property-based tests (hypothesis): the customer, contract and booking pages fed arbitrary
text, numbers and dates never fail with a server error. Every POST either shows the form again
with a message at a field (and saves nothing), or saves what the form accepted — the same values
come back from the database and from the edit page, which saves again without a change.

A few fields of an otherwise valid form are replaced by arbitrary input per example, so both
outcomes are exercised. Examples are bounded (`max_examples`) so the suite stays fast."""

import datetime as dt
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import translation
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from customers import gdv
from customers.forms import BookingForm, ContractForm, CustomerForm
from customers.models import CommissionBooking, Contract, Customer
from tests.factories import ContractFactory, CustomerFactory, InsurerFactory, StaffFactory

pytestmark = pytest.mark.django_db

EXAMPLES = settings(
    max_examples=50,
    deadline=None,
    database=None,  # no example database in the working tree; a failure prints its reproduction
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# --- arbitrary input --------------------------------------------------------------------------

any_text = st.text(max_size=300)
nasty_text = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u200b",
        "'; DROP TABLE customers_customer; --",
        "<script>alert(1)</script>",
        '=HYPERLINK("http://x")',
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀",
        "Ä" * 5000,
        "\r\n",
        "%s %(x)s {0}",
        "NaN",
        "-Infinity",
        "1e999999",
        "9" * 40,
        "-0",
        "1.234.567,89",
        "1,234,567.89",
        "31.02.2026",
        "00.00.0000",
        "2026-13-45",
        "29.02.2025",
        "01.01.0001",
        "31.12.9999",
        "01.01.10000",
    ]
)
garbage = st.one_of(
    any_text,
    nasty_text,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(str),
    st.dates().map(lambda d: d.strftime("%d.%m.%Y")),
)
clean_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=60)


def german_date(lo: dt.date, hi: dt.date):
    return st.dates(min_value=lo, max_value=hi).map(lambda d: d.strftime("%d.%m.%Y"))


def german_money(lo: int, hi: int):
    """Amounts as people type them in German: 1234,5 · 1.234,56 · 89."""

    def fmt(cents: int, grouping: bool) -> str:
        sign, cents = ("-" if cents < 0 else ""), abs(cents)
        euros = f"{cents // 100:,}".replace(",", ".") if grouping else str(cents // 100)
        return f"{sign}{euros},{cents % 100:02d}"

    return st.builds(fmt, st.integers(lo * 100, hi * 100), st.booleans())


def corrupted(valid: dict, fields: list[str], consistent=None):
    """A valid form (made consistent across fields by `consistent`) with up to three fields
    replaced by arbitrary input (or left out)."""

    @st.composite
    def build(draw):
        data = dict(draw(st.fixed_dictionaries(valid)))
        if consistent is not None:
            consistent(data)
        for name in draw(st.sets(st.sampled_from(fields), max_size=3)):
            if draw(st.integers(0, 9)) == 0:
                data.pop(name, None)
            else:
                data[name] = draw(garbage)
        return data

    return build()


# --- the edit page as a browser submits it ----------------------------------------------------


class FormFields(HTMLParser):
    """The name/value pairs a browser would submit for the form with `form_id`."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.data = form_id, False, {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.data[name] = a.get("value", "on")
            else:
                self.data[name] = a.get("value") or ""
        elif tag == "select":
            self.select = name
        elif tag == "option" and self.select:
            if "selected" in a or self.select not in self.data:
                self.data[self.select] = a.get("value") or ""
        elif tag == "textarea":
            self.textarea, self.data[name] = name, ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea] += data.removeprefix("\n") if not self.data[self.textarea] else data


def form_as_submitted(client, url: str, form_id: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200
    parser = FormFields(form_id)
    parser.feed(response.content.decode())
    return parser.data


def assert_saved_as_accepted(obj, form) -> None:
    """The database holds exactly what the form accepted."""
    obj.refresh_from_db()
    for name, value in form.cleaned_data.items():
        # (the form's `household` names a customer to live with, not the household itself)
        if name in {f.name for f in obj._meta.concrete_fields} and name not in (
            "version",
            "number",
            "household",
        ):
            assert getattr(obj, name) == value, name


def snapshot(obj) -> dict:
    obj.refresh_from_db()
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.name not in ("version", "updated_at")
    }


@pytest.fixture
def user(client):
    staff = StaffFactory(username="innendienst-hypothesis", language="de")
    client.force_login(staff)
    return staff


# --- customers --------------------------------------------------------------------------------

CUSTOMER_FIELDS = [
    "kind", "salutation", "title", "first_name", "name", "birth_date", "email", "phone", "street",
    "postal_code", "city", "country", "advisor", "status", "occupation", "marital_status",
    "homeowner", "cars", "children", "number", "household", "new_household", "referred_by",
]  # fmt: skip


def customer_strategy(advisor_pk: int):
    valid = {
        "kind": st.sampled_from(Customer.Kind.values),
        "salutation": st.sampled_from([c for c, _ in gdv.SALUTATIONS]),
        "title": clean_text.map(lambda s: s[:40]),
        "first_name": clean_text,
        "name": clean_text.filter(lambda s: s.strip()),
        "birth_date": german_date(dt.date(1900, 1, 1), dt.date(2025, 12, 31)),
        "email": st.sampled_from(["", "erika@example.org", "a.b+c@beispiel.de"]),
        "phone": st.sampled_from(["", "+49 345 123456", "0345/12 34 56"]),
        "street": clean_text,
        "postal_code": st.integers(1067, 99998).map(lambda n: f"{n:05d}"),
        "city": clean_text,
        "country": st.just("DE"),
        "advisor": st.sampled_from(["", str(advisor_pk)]),
        "status": st.sampled_from(Customer.Status.values),
        "occupation": st.sampled_from(Customer.Occupation.values),
        "marital_status": st.sampled_from([""] + [c for c, _ in gdv.MARITAL_STATUSES]),
        "cars": st.integers(0, 50).map(str),
        "children": st.integers(0, 30).map(str),
        "number": st.just(""),
        "household": st.just(""),
        "new_household": st.just(""),
        "referred_by": st.just(""),
    }
    return corrupted(valid, CUSTOMER_FIELDS)


@given(data=st.data())
@EXAMPLES
def test_customer_pages_take_any_input(client, user, data):
    post = data.draw(customer_strategy(user.pk))
    before = Customer.objects.count()
    with translation.override(user.language):
        form = CustomerForm(data=post)
        accepted = form.is_valid()

    response = client.post(reverse("customers:create"), post)

    event(f"status {response.status_code}")
    if response.status_code == 200:
        assert response.context["form"].errors
        assert Customer.objects.count() == before
        return
    assert response.status_code == 302
    assert accepted, form.errors
    customer = Customer.objects.latest("id")
    assert_saved_as_accepted(customer, form)
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == 200

    # The edit page shows the saved values such that saving them again changes nothing.
    url = reverse("customers:update", args=[customer.pk])
    saved = snapshot(customer)
    again = client.post(url, form_as_submitted(client, url, "customer-form"))
    assert again.status_code == 302, again.context["form"].errors
    assert snapshot(customer) == saved


@given(data=st.data())
@EXAMPLES
def test_customer_edit_takes_any_input(client, user, data):
    customer = CustomerFactory()
    url = reverse("customers:update", args=[customer.pk])
    post = {**form_as_submitted(client, url, "customer-form"), **data.draw(customer_strategy(user.pk))}
    post.pop("number", None)
    saved = snapshot(customer)
    with translation.override(user.language):
        form = CustomerForm(data=post, instance=Customer.objects.get(pk=customer.pk))
        accepted = form.is_valid()

    response = client.post(url, post)

    event(f"status {response.status_code}")
    if response.status_code == 200:
        assert response.context["form"].errors
        assert snapshot(customer) == saved
        return
    assert response.status_code == 302
    assert accepted, form.errors
    assert_saved_as_accepted(customer, form)


# --- contracts --------------------------------------------------------------------------------

CONTRACT_FIELDS = [
    "insurer", "line_of_business", "policy_number", "status", "start_date", "end_date", "main_due_date",
    "notice_period_months", "payment_frequency", "annual_premium",
]  # fmt: skip


def contract_strategy(insurer_pk: int):
    valid = {
        "insurer": st.just(str(insurer_pk)),
        "line_of_business": st.sampled_from(["010", "020", "040", "041", "050", "130", "140"]),
        "policy_number": clean_text.filter(lambda s: s.strip()).map(lambda s: s[:40]),
        "status": st.sampled_from([c for c, _ in gdv.CONTRACT_STATUSES]),
        "start_date": german_date(dt.date(1950, 1, 1), dt.date(2040, 12, 31)),
        "end_date": st.one_of(st.just(""), german_date(dt.date(1950, 1, 1), dt.date(2080, 12, 31))),
        "main_due_date": st.one_of(st.just(""), german_date(dt.date(1950, 1, 1), dt.date(2040, 12, 31))),
        "notice_period_months": st.integers(0, 12).map(str),
        "payment_frequency": st.sampled_from([c for c, _ in gdv.PAYMENT_FREQUENCIES]),
        "annual_premium": german_money(0, 10**11),
    }
    return corrupted(valid, CONTRACT_FIELDS)


@given(data=st.data())
@EXAMPLES
def test_contract_pages_take_any_input(client, user, data):
    customer = CustomerFactory()
    insurer = InsurerFactory()
    post = data.draw(contract_strategy(insurer.pk))
    with translation.override(user.language):
        form = ContractForm(data=post, instance=Contract(customer=customer))
        accepted = form.is_valid()

    response = client.post(reverse("customers:contract_create", args=[customer.pk]), post)

    event(f"status {response.status_code}")
    if response.status_code == 200:
        assert response.context["form"].errors
        assert not Contract.objects.filter(customer=customer).exists()
        return
    assert response.status_code == 302
    assert accepted, form.errors
    contract = Contract.objects.get(customer=customer)
    assert_saved_as_accepted(contract, form)
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == 200
    assert client.get(reverse("customers:contract_list")).status_code == 200

    url = reverse("customers:contract_update", args=[contract.pk])
    saved = snapshot(contract)
    again = client.post(url, form_as_submitted(client, url, "contract-form"))
    assert again.status_code == 302, again.context["form"].errors
    assert snapshot(contract) == saved


# --- Courtage bookings ------------------------------------------------------------------------

BOOKING_FIELDS = ["contract", "booked_on", "kind", "amount", "statement_reference"]


@given(data=st.data())
@EXAMPLES
def test_booking_page_takes_any_input(client, user, data):
    contract = ContractFactory()
    other = ContractFactory()  # another customer's contract must never be accepted
    valid = {
        "contract": st.sampled_from([str(contract.pk)] * 4 + [str(other.pk)]),
        "booked_on": german_date(dt.date(1990, 1, 1), dt.date(2035, 12, 31)),
        "kind": st.sampled_from(CommissionBooking.Kind.values),
        "amount": german_money(1, 10**6),
        "statement_reference": clean_text,
    }

    def clawbacks_negative(post: dict) -> None:
        if post["kind"] == CommissionBooking.Kind.CLAWBACK:
            post["amount"] = "-" + post["amount"]

    post = data.draw(corrupted(valid, BOOKING_FIELDS, clawbacks_negative))
    customer = contract.customer
    with translation.override(user.language):
        form = BookingForm(data=post, customer=customer)
        accepted = form.is_valid()

    response = client.post(reverse("customers:booking_create", args=[customer.pk]), post)

    event(f"status {response.status_code}")
    if response.status_code == 200:
        assert response.context["form"].errors
        assert not CommissionBooking.objects.filter(contract__in=[contract, other]).exists()
        return
    assert response.status_code == 302
    booking = CommissionBooking.objects.get(contract__in=[contract, other])
    assert booking.contract_id == contract.pk
    assert accepted, form.errors
    assert_saved_as_accepted(booking, form)
    assert (booking.amount < 0) == (booking.kind == CommissionBooking.Kind.CLAWBACK)
    assert booking.amount == Decimal(booking.amount).quantize(Decimal("0.01"))
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == 200
