"""seed_demo: the demo book's counts and invariants, determinism, --if-empty, the demo users."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from django.db.models import Count, Max, Min

from brokercrm.accounts.models import User
from brokercrm.accounts.roles import OWNER_GROUP, STAFF_GROUP
from customers import demo
from customers.models import (
    Activity,
    CommissionBooking,
    Contract,
    Customer,
    Household,
    MarketingConsent,
)
from customers.validators import GERMAN_PLZ, validate_postal_code

AS_OF = dt.date(2026, 11, 27)
BOOK_MODELS = [CommissionBooking, Contract, MarketingConsent, Activity, Customer, Household]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(customers=200, seed=7, **kwargs):
    return demo.seed_demo(customers=customers, seed=seed, as_of=AS_OF, progress=False, **kwargs)


@pytest.fixture
def book(db):
    return seed()


def clear_book():
    """Like `manage.py flush` for the book's tables: rows gone, id sequences restarted."""
    for model in BOOK_MODELS:
        model.objects.all().delete()
    sequences = [{"table": m._meta.db_table, "column": "id"} for m in BOOK_MODELS]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_by_name_sql(no_style(), sequences):
            cursor.execute(sql)


def snapshot() -> dict[str, list[tuple]]:
    """The book without timestamps of the run."""
    return {
        "households": list(Household.objects.order_by("id").values_list("id", "name")),
        "customers": list(
            Customer.objects.order_by("id").values_list(
                "id", "number", "kind", "salutation", "title", "first_name", "name", "birth_date", "email",
                "phone", "street", "postal_code", "city", "advisor__username", "status", "household_id",
                "referred_by_id", "occupation", "marital_status", "homeowner", "cars", "children",
            )
        ),
        "contracts": list(
            Contract.objects.order_by("id").values_list(
                "id", "customer_id", "insurer__name", "line_of_business__code", "policy_number", "status",
                "start_date", "end_date", "main_due_date", "notice_period_months", "payment_frequency",
                "annual_premium",
            )
        ),
        "bookings": list(
            CommissionBooking.objects.order_by("contract_id", "booked_on", "kind").values_list(
                "contract_id", "booked_on", "amount", "kind", "statement_reference"
            )
        ),
        "consents": list(
            MarketingConsent.objects.order_by("customer_id", "channel").values_list(
                "customer_id", "channel", "granted_on", "source", "withdrawn_on"
            )
        ),
        "activities": list(
            Activity.objects.order_by("customer_id", "occurred_at", "subject").values_list(
                "customer_id", "kind", "occurred_at", "subject", "user__username"
            )
        ),
    }  # fmt: skip


# --- counts and invariants -------------------------------------------------------------------


def test_builds_the_requested_number_of_customers_and_reports_totals(book):
    assert book.customers == Customer.objects.count() == 200
    assert book.contracts == Contract.objects.count()
    assert book.bookings == CommissionBooking.objects.count()
    assert book.households == Household.objects.count()


def test_every_customer_has_one_to_eight_contracts_about_two_and_a_half_on_average(book):
    counts = list(Customer.objects.annotate(n=Count("contracts")).values_list("n", flat=True))
    assert min(counts) >= 1
    assert max(counts) <= 8
    assert counts.count(1) == max(counts.count(k) for k in range(1, 9))  # skewed toward one contract
    assert 2.0 <= sum(counts) / len(counts) <= 3.0


def test_customer_numbers_are_unique_and_every_plz_is_a_valid_german_plz(book):
    numbers = list(Customer.objects.values_list("number", flat=True))
    assert len(set(numbers)) == len(numbers)
    for plz, country in Customer.objects.values_list("postal_code", "country"):
        assert GERMAN_PLZ.match(plz), plz
        validate_postal_code(plz, country)


def test_policy_numbers_are_unique_per_insurer(book):
    pairs = list(Contract.objects.values_list("insurer_id", "policy_number"))
    assert len(set(pairs)) == len(pairs)


def test_the_book_has_companies_households_referrals_and_consents(book):
    companies = Customer.objects.filter(kind=Customer.Kind.COMPANY)
    assert companies.exists()
    assert set(companies.values_list("salutation", flat=True)) == {"3"}
    assert Household.objects.annotate(n=Count("members")).aggregate(m=Min("n"))["m"] >= 2
    assert Customer.objects.filter(referred_by__isnull=False).exists()
    assert MarketingConsent.objects.exists()
    assert Activity.objects.exists()
    assert Customer.objects.filter(advisor__isnull=True).count() == 0


def test_booking_signs_match_their_kind(book):
    assert CommissionBooking.objects.filter(kind="clawback", amount__gte=0).count() == 0
    assert CommissionBooking.objects.exclude(kind="clawback").filter(amount__lte=0).count() == 0
    assert set(CommissionBooking.objects.values_list("kind", flat=True)) >= {"recurring", "acquisition"}


def test_claw_backs_happen_in_a_bigger_book(db):
    seed(customers=1500, seed=3)
    assert CommissionBooking.objects.filter(kind="clawback").exists()


def test_the_ledger_covers_the_24_months_before_the_as_of_date(book):
    span = CommissionBooking.objects.aggregate(first=Min("booked_on"), last=Max("booked_on"))
    assert span["first"] >= dt.date(2024, 11, 1)
    assert span["last"] < dt.date(2026, 11, 1)


def test_recurring_courtage_follows_the_rule_for_every_contract(book):
    """The set-based SQL equals the rule written out in Python: one booking per premium payment
    in the ledger months while the contract runs, premium × rate / payments per year."""
    first = AS_OF.year * 12 + AS_OF.month - 1 - demo.LEDGER_MONTHS
    last = AS_OF.year * 12 + AS_OF.month - 2
    day = {vu: int(vu) % 28 + 1 for _, vu, _ in demo.INSURERS}
    step = {"1": 12, "2": 6, "4": 3, "8": 1}
    expected = set()
    for c in Contract.objects.select_related("line_of_business", "insurer"):
        rate = demo.LINES[c.line_of_business.code].courtage_bp
        if not rate or c.payment_frequency not in step:
            continue
        s = c.start_date.year * 12 + c.start_date.month - 1
        e = last if c.end_date is None else min(c.end_date.year * 12 + c.end_date.month - 2, last)
        cents = max(int(c.annual_premium * 100) * rate * step[c.payment_frequency] // 120000, 1)
        for month in range(s, e + 1, step[c.payment_frequency]):
            if month >= first:
                booked = dt.date(month // 12, month % 12 + 1, day[c.insurer.vu_number])
                expected.add((c.pk, booked, Decimal(cents) / 100))
    actual = set(
        CommissionBooking.objects.filter(kind="recurring").values_list("contract_id", "booked_on", "amount")
    )
    assert actual == expected


def test_customers_without_a_contract_in_force_are_former_customers(book):
    for customer in Customer.objects.prefetch_related("contracts"):
        in_force = any(c.status != "4" for c in customer.contracts.all())
        assert customer.status == ("active" if in_force else "former")


# --- determinism and batches ---------------------------------------------------------------


def test_the_same_seed_gives_the_same_book(db):
    clear_book()  # PostgreSQL sequences outlive the rollback of earlier tests
    seed(customers=120, seed=11, batch_size=50)
    first = snapshot()
    clear_book()
    seed(customers=120, seed=11, batch_size=50)
    assert snapshot() == first


def test_another_seed_gives_another_book(db):
    seed(customers=50, seed=1)
    first = snapshot()
    clear_book()
    seed(customers=50, seed=2)
    assert snapshot()["customers"] != first["customers"]


def test_an_interrupted_run_leaves_only_whole_batches(db, monkeypatch):
    original = demo.BookGenerator.batch
    calls = {"n": 0}

    def failing_batch(self, *args, **kwargs):
        batch = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            batch.rows["Contract"].append(batch.rows["Contract"][0])  # duplicate id: the batch fails
        return batch

    monkeypatch.setattr(demo.BookGenerator, "batch", failing_batch)
    with pytest.raises(Exception):  # noqa: B017 - the database's own integrity error
        seed(customers=90, batch_size=40)
    assert Customer.objects.count() == 40
    assert Customer.objects.filter(contracts__isnull=True).count() == 0
    assert not Contract.objects.filter(customer__isnull=True).exists()
    assert CommissionBooking.objects.exists()


# --- the command --------------------------------------------------------------------------


def test_command_loads_the_book_and_prints_totals(db):
    out = StringIO()
    call_command("seed_demo", customers=30, seed=5, as_of=AS_OF, no_progress=True, stdout=out)
    assert Customer.objects.count() == 30
    assert "30 customers" in out.getvalue()
    assert f"{Contract.objects.count():,} contracts" in out.getvalue()


def test_if_empty_does_nothing_when_customers_exist(book):
    out = StringIO()
    call_command("seed_demo", customers=30, if_empty=True, no_progress=True, stdout=out)
    assert Customer.objects.count() == 200
    assert "nothing loaded" in out.getvalue()


def test_if_empty_loads_into_an_empty_database(db):
    call_command("seed_demo", customers=10, if_empty=True, no_progress=True, stdout=StringIO())
    assert Customer.objects.count() == 10


def test_a_second_run_adds_to_the_book_without_clashes(book):
    seed(customers=50, seed=8)
    assert Customer.objects.count() == 250
    assert Customer.objects.values("number").distinct().count() == 250


# --- demo users ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "group"),
    [("inhaber", OWNER_GROUP), ("innendienst", STAFF_GROUP), ("innendienst2", STAFF_GROUP)],
)
def test_demo_users_exist_with_their_group_and_can_log_in(book, client, username, group):
    user = User.objects.get(username=username)
    assert list(user.groups.values_list("name", flat=True)) == [group]
    assert user.is_owner == (group == OWNER_GROUP)
    assert client.login(username=username, password=demo.DEMO_PASSWORD)


def test_advisors_are_the_demo_users(book):
    advisors = set(Customer.objects.values_list("advisor__username", flat=True))
    assert advisors == {"inhaber", "innendienst", "innendienst2"}


def test_demo_logins_prints_the_logins_and_the_url(book):
    out = StringIO()
    call_command("demo_logins", stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8000" in text
    for username in ("inhaber", "innendienst", "innendienst2"):
        assert f"{username} " in text
    assert demo.DEMO_PASSWORD in text
