from __future__ import annotations

import datetime as dt
import functools

from django.db import models
from django.db.models import Exists, Q
from django.db.models.functions import Substr

from brokercrm.kept import kept

from . import gdv

# The Leitregion of a German PLZ: its first two digits (an index of the customer list).
PLZ_REGION = Substr("postal_code", 1, 2)


class CustomerQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status="active")

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
        """Name, first name, customer number, PLZ or city; every word must match somewhere."""
        qs = self
        for word in term.split():
            qs = qs.filter(
                Q(name__icontains=word)
                | Q(first_name__icontains=word)
                | Q(number__iexact=word)
                | Q(postal_code__startswith=word)
                | Q(city__icontains=word)
            )
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
