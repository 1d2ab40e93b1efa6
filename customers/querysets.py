from __future__ import annotations

import datetime as dt
import functools

from django.db import connection, models
from django.db.models import Exists, F, Func, Q, Value
from django.db.models.functions import Replace, Substr, Upper

from brokercrm.kept import kept

from . import gdv

# The Leitregion of a German PLZ: its first two digits (an index of the customer list).
PLZ_REGION = Substr("postal_code", 1, 2)


class Bytewise(Func):
    """Its expression compared character by character (PostgreSQL's collation "C"), whatever the
    database's collation: a sort key that is already folded needs no language rules, and only
    under "C" does PostgreSQL answer LIKE 'prefix%' from a btree index. SQLite compares so anyway."""

    template = "%(expressions)s"

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template='(%(expressions)s) COLLATE "C"', **extra)


# Umlauts and ß as German name lists spell them out (DIN 5007, variant 2), after upper-casing.
# Both cases of the umlauts are replaced: SQLite's UPPER leaves non-ASCII letters alone.
_SPELLED_OUT = (("Ä", "AE"), ("Ö", "OE"), ("Ü", "UE"), ("ä", "AE"), ("ö", "OE"), ("ü", "UE"))


def name_key(expression) -> Func:
    """A name as the customer list sorts and searches it: upper case, "ß" as "SS", "Ä" as "AE"
    and so on, so that "Müller", "MÜLLER" and "Mueller" sort together and find each other, and
    "Ärger" comes among the A's. Stored with each customer (Customer.name_key, first_name_key)."""
    key = Upper(Replace(expression, Value("ß"), Value("ss")))
    for letter, spelled in _SPELLED_OUT:
        key = Replace(key, Value(letter), Value(spelled))
    return key


def word_key(word: str, vendor: str) -> str:
    """name_key of a search word, as the database computes it for a stored name: PostgreSQL
    upper-cases every letter one to one (the simple case mapping: "ß" stays, hence spelled out
    first), SQLite only ASCII letters."""
    word = word.replace("ß", "ss")
    if vendor == "sqlite":
        word = "".join(char.upper() if char.isascii() else char for char in word)
    else:
        word = "".join(upper if len(upper := char.upper()) == 1 else char for char in word)
    for letter, spelled in _SPELLED_OUT:
        word = word.replace(letter, spelled)
    return word


# The customer list's order "by name" (indexes customer_name_key_idx, customer_plz_region_name_idx).
NAME_KEY = Bytewise(F("name_key"))
FIRST_NAME_KEY = Bytewise(F("first_name_key"))
# The name key without its first letter: a search word found here is inside the name, not at
# its start (a trigram index on PostgreSQL); at the start, NAME_KEY's btree index finds it in order.
NAME_KEY_REST = Substr("name_key", 2)
# Customers "by name", wherever they are listed.
BY_NAME = (NAME_KEY.asc(), FIRST_NAME_KEY.asc(), F("id").asc())


def search_words(term: str) -> list[str]:
    return term.split()


def split_word(words: list[str]) -> str | None:
    """The word a search is split by (name_start_split): a search of one word, where the
    database takes LIMIT inside UNION (not SQLite, which then sorts the whole list)."""
    if len(words) == 1 and connection.features.supports_slicing_ordering_in_compound:
        return words[0]
    return None


def name_starts(word: str) -> Q:
    """The name's key starts with the word's key: a range of customer_name_key_idx, in the list's
    order by name (on a queryset from CustomerQuerySet.search, which names the keys)."""
    return Q(name_key_bytewise__startswith=word_key(word, connection.vendor))


def name_rest_or_other_fields(word: str) -> Q:
    """Every other way a customer matches the word: inside the name or the first name (by their
    keys: "Juergen" finds "Jürgen"), inside the city in any case, the number in any case, or the
    start of the PLZ. The stored keys spare upper-casing every customer a search walks past;
    the city keeps its spelling, as a city key's trigrams are common ones ("MUELLER" shares
    "MUE" with every Münster customer: 1.5 ms more per search at 1,000,000 customers)."""
    key = word_key(word, connection.vendor)
    return (
        Q(name_key_rest__contains=key)
        | Q(first_name_key__contains=key)
        | Q(number_key=Upper(Value(word)))
        | Q(postal_code__startswith=word)
        | Q(city__icontains=word)
    )


def name_start_split(rows, word: str, unsearched=None) -> tuple:
    """A list searched for one word (CustomerQuerySet.search) as two disjoint parts: the customers
    whose name starts with the word (a range of customer_name_key_idx, in the list's order by
    name) and all others that match. A surname's matches are all in one place of the alphabet,
    which PostgreSQL cannot know: apart, each part is planned right.

    `unsearched`: the same list without the search, if at hand. A name that starts with the word
    matches it, so the first part is that list's; with the search's condition as well,
    PostgreSQL would think it rarer than it is and sort all "Müller" instead of reading 50."""
    base = rows if unsearched is None else unsearched
    if "name_key_rest" not in base.query.annotations:  # CustomerQuerySet.search names both keys
        base = base.alias(name_key_bytewise=NAME_KEY, name_key_rest=NAME_KEY_REST)
    elsewhere = base.filter(name_rest_or_other_fields(word)).exclude(name_starts(word))
    return base.filter(name_starts(word)), elsewhere


class CustomerQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status="active")

    def by_name(self):
        """Sorted by name as German name lists are (name_key: "Ärger" among the A's, "Müller"
        next to "Mueller"), then first name and id (customer_name_key_idx)."""
        return self.order_by(*BY_NAME)

    def usable(self):
        """Customers that may be worked with: not restricted after an erasure request
        (Art. 18 DSGVO). Lists, tasks, planning and drill-downs start from here."""
        return self.filter(restricted_at__isnull=True)

    def visible_to(self, user):
        """The customers this user may see: all of them, unless the office lets staff see only
        the customers they advise (OfficeSettings); the owner always sees the whole book."""
        return self.filter(visible_q(user))

    def restricted(self):
        """Customers whose data is only stored until the retention duty ends (Art. 18 DSGVO)."""
        return self.filter(restricted_at__isnull=False)

    def in_class(self, *classes: str):
        return self.filter(segment__in=classes)

    def search(self, term: str):
        """Name, first name, customer number, PLZ or city; every word must match somewhere.

        A name matches by its key (name_key: any case, "Mueller" finds "Müller" and back), at
        its start (name_starts) or inside it; the first name contains the word by its key too,
        the city in any case, the number is the word in any case, the PLZ starts with it."""
        qs = self.alias(name_key_bytewise=NAME_KEY, name_key_rest=NAME_KEY_REST)
        for word in search_words(term):
            qs = qs.filter(name_starts(word) | name_rest_or_other_fields(word))
        return qs

    def postal_code_starting(self, prefix: str):
        """Customers whose PLZ starts with `prefix`. From two digits on, the Leitregion (the
        PLZ's first two digits) is named as well, so a page of one area sorted by name is a
        range of customer_plz_region_name_idx instead of a walk through the whole name index."""
        if len(prefix) < 2:
            return self.filter(postal_code__startswith=prefix)
        customers = self.alias(plz_region=PLZ_REGION).filter(plz_region=prefix[:2])
        # Two digits are the Leitregion itself; both conditions together would look far rarer
        # to the planner than they are (they are correlated) and it would sort the whole area.
        return customers.filter(postal_code__startswith=prefix) if len(prefix) > 2 else customers

    def with_biggest_gap(self, line_code: str):
        return self.filter(biggest_gap_id=_line_id(line_code))

    def holding_line(self, line_code: str):
        """Customers holding an active contract in this line of business (with us).

        The code is resolved to the line's id first: a join on the code hides the line's
        selectivity from the planner, which then picks a nested loop over all contracts."""
        return self.filter(_holding(_line_id(line_code)))


@functools.lru_cache(maxsize=1024)
def _holding(line_id: int | None) -> Exists:
    """The condition of CustomerQuerySet.holding_line, made once per Sparte and process (an
    expression is copied, not changed, by every query that uses it): building the subquery
    anew cost 0.1 ms a list page."""
    from .models import Contract

    return Exists(
        Contract.objects.filter(
            customer=models.OuterRef("pk"),
            line_of_business_id=line_id,
            status__in=gdv.ACTIVE_CONTRACT_STATUSES,
        )
    )


def visible_q(user, to_customer: str = "") -> Q:
    """The rule of CustomerQuerySet.visible_to as a Q, for any model that reaches the customer
    through `to_customer` (e.g. "customer__"): nothing to filter when the user sees the whole book."""
    if sees_whole_book(user):
        return Q()
    return Q(**{f"{to_customer}advisor_id": user.pk})


def sees_whole_book(user) -> bool:
    """Whether `user` sees every customer. The office setting is read once per user object
    (that is, once per request)."""
    from brokercrm.accounts.roles import OWNER_PERMISSION

    if user is None or user.has_perm(OWNER_PERMISSION):
        return True
    if not hasattr(user, "_sees_whole_book"):
        from .models import OfficeSettings

        restricted = OfficeSettings.objects.filter(pk=1, staff_sees_own_customers_only=True).exists()
        user._sees_whole_book = not restricted
    return user._sees_whole_book


def _day_month_q(start: dt.date, days: int, field: str) -> Q:
    """Q matching dates whose day and month fall in [start, start + days] of any year."""
    pairs: dict[int, set[int]] = {}
    for offset in range(min(days, 366) + 1):
        d = start + dt.timedelta(days=offset)
        pairs.setdefault(d.month, set()).add(d.day)
        if d.month == 2 and d.day == 28:
            pairs[2].add(29)  # Hauptfälligkeit 29.02. falls on 28.02. in common years
    q = Q()
    for month, month_days in pairs.items():
        if len(month_days) >= 28:
            q |= Q(**{f"{field}__month": month})
        else:
            q |= Q(**{f"{field}__month": month, f"{field}__day__in": sorted(month_days)})
    return q


class ContractQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=gdv.ACTIVE_CONTRACT_STATUSES)

    def visible_to(self, user):
        """Contracts of the customers this user may see (CustomerQuerySet.visible_to)."""
        return self.filter(visible_q(user, "customer__"))

    def due_within(self, days: int, today: dt.date):
        """Renewal worklist: Hauptfälligkeit or cancellation deadline within `days` days.

        The deadline lies `notice_period_months` before the Hauptfälligkeit, so for each notice
        period in use, the Hauptfälligkeit must fall in the window shifted by that period.
        """
        q = _day_month_q(today, days, "main_due_date")
        for months in range(0, 13):
            shifted_start = _add_months(today, months)
            q |= Q(notice_period_months=months) & _day_month_q(shifted_start, days, "main_due_date")
        return self.filter(q)


def _add_months(date: dt.date, months: int) -> dt.date:
    import calendar

    index = date.year * 12 + date.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(date.day, calendar.monthrange(year, month)[1]))


def _line_ids() -> dict[str, int]:
    from .models import LineOfBusiness

    return dict(LineOfBusiness.objects.values_list("code", "id"))


# The id of each Sparte code: reference data, kept instead of read for every filtered list.
line_ids = kept(_line_ids, seconds=300, cleared_by="customers.LineOfBusiness")


def _line_id(code: str) -> int | None:
    return line_ids().get(code)
