"""Reads of the customers app: what the list pages and the customer page need, each in a
fixed number of queries however many rows there are."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, ExtractDay, ExtractMonth, Mod

from brokercrm.accounts.models import User
from brokercrm.kept import kept

from .filters import ContractFilter, CustomerFilter
from .models import Activity, CommissionBooking, Contract, Customer, LineOfBusiness, MarketingConsent
from .querysets import name_start_split, search_words, sees_whole_book, split_word, visible_q

TIMELINE_LIMIT = 50
REFERRALS_LIMIT = 50
HOUSEHOLD_LIMIT = 50
RECENT_BOOKINGS_LIMIT = 10
ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))


# --- customers --------------------------------------------------------------------------------


def customer_queryset(*, user: User | None = None) -> QuerySet[Customer]:
    """Customers with advisor, household and biggest gap joined, as far as `user` may see
    them (CustomerQuerySet.visible_to; no user: every customer, for jobs and services)."""
    return Customer.objects.visible_to(user).select_related("advisor", "household", "biggest_gap")


def customer_filter(*, filters: Mapping[str, Any] | None, user: User | None = None) -> CustomerFilter:
    # Customers restricted after an erasure request (Art. 18 DSGVO) are not listed.
    return CustomerFilter(data=filters or None, queryset=customer_queryset(user=user).usable())


def customer_list(*, filters: Mapping[str, Any] | None, user: User | None = None) -> QuerySet[Customer]:
    """The customer list as filtered by the list page's filter form; nothing on invalid input."""
    return _listed(customer_filter(filters=filters, user=user))


def _listed(filterset: CustomerFilter) -> QuerySet[Customer]:
    if filterset.is_bound and not filterset.is_valid():
        return filterset.queryset.none()
    return filterset.qs


def search_split(filterset: CustomerFilter) -> tuple[list[str], QuerySet[Customer] | None]:
    """The words searched for (?q=) and, for a search split by its word (querysets.split_word),
    the same list without the search (CustomerFilter.qs_without), else None."""
    words = search_words(filterset.cleaned["q"]) if filterset.is_valid() else []
    return words, filterset.qs_without("q") if split_word(words) else None


# What a row of the customer list shows, read as plain values: building 50 model instances
# (with advisor, household and biggest gap) costs more than the query on a large book. The
# advisor's and the biggest gap's names come from reference data kept in the process
# (row_names), not from joins: two LEFT JOINs less make PostgreSQL plan the list query in a
# third of the time.
CUSTOMER_ROW_FIELDS = (
    "id",
    "number",
    "kind",
    "name",
    "first_name",
    "postal_code",
    "city",
    "advisor_id",
    "status",
    "segment",
    "revenue",
    "potential",
    "biggest_gap_id",
    "household_id",
    "household__name",
)


def customer_rows(customers: QuerySet[Customer]) -> QuerySet:
    """The customer list's rows (dicts of CUSTOMER_ROW_FIELDS) in the list's filter and order."""
    return customers.values(*CUSTOMER_ROW_FIELDS)


def _user_names(pks=None) -> dict[int, str]:
    users = User.objects.all() if pks is None else User.objects.filter(pk__in=pks)
    return {
        pk: User.name_for_display(first, last, username)
        for pk, first, last, username in users.values_list("pk", "first_name", "last_name", "username")
    }


def _line_short_names(pks=None) -> dict[int, str]:
    lines = LineOfBusiness.objects.all() if pks is None else LineOfBusiness.objects.filter(pk__in=pks)
    return dict(lines.values_list("pk", "short_name"))


# Every user's and every Sparte's display name, kept per process (brokercrm.kept).
user_names = kept(_user_names, seconds=60, cleared_by="accounts.User")
line_short_names = kept(_line_short_names, seconds=300, cleared_by="customers.LineOfBusiness")


def row_names(rows: list[dict]) -> tuple[dict[int, str], dict[int, str]]:
    """The names of these customer_rows' advisors and biggest gaps, by id: from what is kept,
    and a user or Sparte made in another process since it was read is read at once (one query)."""
    return (
        _names(user_names, _user_names, {row["advisor_id"] for row in rows} - {None}),
        _names(line_short_names, _line_short_names, {row["biggest_gap_id"] for row in rows} - {None}),
    )


def _names(kept_names, read, pks: set) -> dict[int, str]:
    names = kept_names()
    missing = pks - names.keys()
    if missing:
        kept_names.clear()
        names = {**names, **read(missing)}
    return {pk: names[pk] for pk in pks}


# A search that PostgreSQL expects to match at most this many customers is sorted by name or by
# place after it is found (search_sorts_matches) instead of by walking that sort's index.
FEW_MATCHES = 40_000


def search_sorts_matches(rows: QuerySet, key: Any = None) -> bool:
    """Whether a searched list is better found first and sorted then (PostgreSQL only).

    Sorted by name, PostgreSQL walks the name index and tests every customer until a page is
    full. It expects the matches spread over the alphabet, but a surname's are all in one place:
    "Müller" sorted by name tested 570,000 of 1,000,000 customers (1.7-2.4 s) before the page was
    full; found through the search indexes and sorted it takes 0.13 s, a rare name 1-20 ms
    instead of 10-140 ms. Cities cluster the same way in the PLZ order. Only for a term that
    matches very many customers ("ann", 141,000) is the walk faster, as every few customers
    match; the planner's estimate of the matches (it reads the columns' statistics) tells which.
    `key`: what identifies the list's rows, if known (match_estimate)."""
    if connection.vendor != "postgresql":
        return False
    return match_estimate(rows.order_by(), key) <= FEW_MATCHES


# PostgreSQL's estimates of searched lists by query, kept a few minutes: every page of a search,
# each sort of it, the full page and its table alone ask for the same one. Estimates change
# only when the statistics do (ANALYZE). Emptied when a customer is saved here.
_match_estimates = kept(dict, seconds=300, cleared_by="customers.Customer")
MATCH_ESTIMATES_KEPT = 1000


def match_estimate(rows: QuerySet, key: Any = None) -> int:
    """How many rows PostgreSQL expects `rows` (unordered) to have (EXPLAIN, 1-1.5 ms), kept by
    `key` (list_key: the filters and who looks) or else by the query's SQL, which costs ~0.6 ms
    to write for a search. Only the choice of a plan depends on it, never which rows are shown."""
    if key is None:
        sql, params = rows.query.sql_with_params()
        key = (sql, repr(params))
    estimates = _match_estimates()
    estimate = estimates.get(key)
    if estimate is None:
        if len(estimates) >= MATCH_ESTIMATES_KEPT:
            estimates.clear()
        plan = json.loads(rows.explain(format="json"))
        estimate = estimates[key] = plan[0]["Plan"]["Plan Rows"]
    return estimate


def list_key(filterset: CustomerFilter, user: User | None) -> tuple:
    """What decides which rows a list filtered by `filterset` holds for `user`: the submitted
    filters (FilterSet.filters_key, with the language and the selects' choices) and whether
    the user sees the whole book or only their own customers (visible_q)."""
    return (filterset.filters_key, None if sees_whole_book(user) else user.pk)


def capped_count(
    rows: QuerySet, cap: int, words: list[str] | None = None, unsearched: QuerySet | None = None
) -> int:
    """How many rows a list has, counted up to `cap` + 1 (which means "more than `cap`").
    Without its ordering and with only the ids, so PostgreSQL drops the rows' LEFT JOINs
    (advisor, household, ...) and stops at the cap. A list searched for one word is counted in
    its two parts (querysets.name_start_split, from `unsearched`, the list without the search,
    if given): as a whole, "Müller" looked to PostgreSQL like a table scan that meets a match
    every 35 rows (50 ms at 1,000,000 customers); the names that start with the word counted
    with the search's condition as well looked 35x rarer, and PostgreSQL collected all 28,000
    of them (9 ms) instead of reading 1,001 from the name index (0.4 ms)."""
    word = split_word(words or [])
    if word:
        parts = [part.order_by().values("pk")[: cap + 1] for part in name_start_split(rows, word, unsearched)]
        return min(parts[0].union(parts[1], all=True).count(), cap + 1)
    return rows.order_by().values("pk")[: cap + 1].count()


def customer_count(*, filters: Mapping[str, Any] | None, user: User | None = None, cap: int) -> int:
    """capped_count of customer_list: a search of one word counted in its two parts, both
    from the list without the search (CustomerFilter.qs_without)."""
    filterset = customer_filter(filters=filters, user=user)
    return capped_count(_listed(filterset), cap, *search_split(filterset))


def customer_by_number(number: str) -> Customer | None:
    """The customer with this number, typed exactly or in lower case; the unique index is used."""
    number = number.strip()
    return Customer.objects.usable().filter(number__in={number, number.upper()}).first()


def customer_detail_queryset(*, user: User | None = None) -> QuerySet[Customer]:
    return customer_queryset(user=user).select_related("referred_by")


def one_year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29.02.
        return day.replace(year=day.year - 1, day=28)


def courtage_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last 12 months up to and including today: (exclusive start, inclusive end)."""
    return one_year_before(today), today


def customer_contracts(*, customer: Customer, today: dt.date) -> QuerySet[Contract]:
    """The customer's contracts, each with its Courtage of the last 12 months (one query)."""
    start, end = courtage_window(today)
    return (
        Contract.objects.filter(customer=customer)
        .select_related("insurer", "line_of_business")
        .annotate(
            courtage_12m=Coalesce(
                Sum(
                    "bookings__amount",
                    filter=Q(bookings__booked_on__gt=start, bookings__booked_on__lte=end),
                ),
                ZERO,
            )
        )
        .order_by("line_of_business__code", "start_date", "id")
    )


def customer_timeline(*, customer: Customer, limit: int = TIMELINE_LIMIT) -> list[Activity]:
    return list(customer.activities.select_related("user").order_by("-occurred_at", "-id")[:limit])


@dataclass
class CustomerPage:
    """Everything the customer page shows besides the customer row itself."""

    contracts: list[Contract]
    premium_total: Decimal
    courtage_total: Decimal
    household_members: list[Customer]
    referrals: list[Customer]
    referral_count: int
    consents: list[MarketingConsent]
    recent_bookings: list[CommissionBooking]
    timeline: list[Activity] = field(default_factory=list)


def customer_page(*, customer: Customer, today: dt.date, user: User | None = None) -> CustomerPage:
    """Household members and referrals are listed as far as `user` may see them."""
    contracts = list(customer_contracts(customer=customer, today=today))
    members: list[Customer] = []
    if customer.household_id:
        members = list(
            Customer.objects.visible_to(user)
            .filter(household_id=customer.household_id)
            .exclude(pk=customer.pk)
            .by_name()[:HOUSEHOLD_LIMIT]
        )
    visible_referrals = customer.referrals.visible_to(user)
    referrals = list(visible_referrals.by_name()[: REFERRALS_LIMIT + 1])
    referral_count = len(referrals) if len(referrals) <= REFERRALS_LIMIT else visible_referrals.count()
    return CustomerPage(
        contracts=contracts,
        premium_total=sum((c.annual_premium for c in contracts if c.is_active), Decimal("0")),
        courtage_total=sum((c.courtage_12m for c in contracts), Decimal("0")),
        household_members=members,
        referrals=referrals[:REFERRALS_LIMIT],
        referral_count=referral_count,
        consents=list(customer.consents.order_by("channel")),
        recent_bookings=list(
            CommissionBooking.objects.filter(contract__customer=customer)
            .select_related("contract")
            .order_by("-booked_on", "-id")[:RECENT_BOOKINGS_LIMIT]
        ),
        timeline=customer_timeline(customer=customer),
    )


def booking_contracts(*, customer: Customer) -> QuerySet[Contract]:
    """The contracts a booking for this customer may go to: only the customer's own."""
    return (
        Contract.objects.filter(customer=customer)
        .select_related("insurer", "line_of_business")
        .order_by("line_of_business__code", "policy_number")
    )


# --- contracts --------------------------------------------------------------------------------


def contract_queryset(*, today: dt.date) -> QuerySet[Contract]:
    """Contracts with customer, insurer and line joined, and `due_rank`: how soon (in month-day
    steps) the next Hauptfälligkeit comes after today, so the renewal worklist sorts by it."""
    today_md = today.month * 100 + today.day
    month_day = ExtractMonth("main_due_date") * 100 + ExtractDay("main_due_date")
    return (
        Contract.objects.select_related("customer", "insurer", "line_of_business")
        .annotate(due_rank=Mod(month_day - today_md + 1300, 1300))
        .order_by("customer_id", "line_of_business_id", "id")
    )


def contract_filter(
    *, filters: Mapping[str, Any] | None, today: dt.date, user: User | None = None
) -> ContractFilter:
    queryset = contract_queryset(today=today).visible_to(user).filter(customer__restricted_at__isnull=True)
    return ContractFilter(data=filters or None, queryset=queryset, today=today)


def contract_list(
    *, filters: Mapping[str, Any] | None, today: dt.date, user: User | None = None
) -> QuerySet[Contract]:
    filterset = contract_filter(filters=filters, today=today, user=user)
    if filterset.is_bound and not filterset.is_valid():
        return filterset.queryset.none()
    return filterset.qs


def contract_detail_queryset(*, user: User | None = None) -> QuerySet[Contract]:
    return Contract.objects.visible_to(user).select_related("customer", "insurer", "line_of_business")


def contract_with_booking_count(*, user: User | None = None) -> QuerySet[Contract]:
    """For the delete page: a contract with bookings cannot be deleted (see CommissionBooking)."""
    return contract_detail_queryset(user=user).annotate(booking_count=Count("bookings"))


def consent_queryset(*, user: User | None = None) -> QuerySet[MarketingConsent]:
    return MarketingConsent.objects.filter(visible_q(user, "customer__")).select_related("customer")
