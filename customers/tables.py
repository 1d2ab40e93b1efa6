"""The customer and contract tables (django-tables2) and their CSV exports.

Sortable columns sort by indexed columns with the primary key as tie-breaker, so paging is
stable and fast on a large book. The CSV is for German Excel: `;`-separated, UTF-8 with BOM,
decimal comma, dates as 31.12.2026.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import html
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

import django_tables2 as tables
from django.db.models import F, QuerySet, TextField, Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django_tables2.paginators import LazyPaginator

from . import gdv, selectors
from .models import Contract, Customer
from .querysets import FIRST_NAME_KEY, NAME_KEY, name_start_split, split_word
from .templatetags.crm import money_formatter, segment_badge

PER_PAGE = 50
# The count view counts at most this many rows: on a book of a million customers an exact
# COUNT(*) costs more than the rest of the page (PostgreSQL: 120 ms unfiltered, 200 ms filtered).
COUNT_CAP = 1_000
CSV_CHUNK = 2000
MONEY_ATTRS = {"th": {"class": "money"}, "td": {"class": "money"}}
TABLE_ATTRS = {"class": "table table-sm table-hover align-middle mb-2"}


class CountLaterPaginator(LazyPaginator):
    """Pages a list without counting it: a page reads one row more than it shows, to know
    whether another follows (django-tables2's LazyPaginator). The list page loads its count
    afterwards from the list's count view (htmx), so the rows never wait for it; on the last
    page the count is known at once (`summary`, as count_summary makes it). `?per_page=` can only
    make pages smaller."""

    def __init__(self, object_list, per_page, *args, **kwargs):
        self.summary: dict | None = None
        super().__init__(object_list, page_size(per_page), *args, **kwargs)

    def page(self, number):
        page = super().page(number)
        if self.is_last_page(page.number):
            count = (page.number - 1) * self.per_page + len(page.object_list)
            self.summary = count_summary(count, page.number, exact=True, per_page=self.per_page)
        return page


PAGINATION = {"per_page": PER_PAGE, "paginator_class": CountLaterPaginator}


def page_size(per_page: str | int | None) -> int:
    """The rows a page shows: PER_PAGE, or fewer if the query string asks (CountLaterPaginator)."""
    try:
        return max(1, min(int(per_page or PER_PAGE), PER_PAGE))
    except (TypeError, ValueError):
        return PER_PAGE


def fenced(key):
    """The same values as `key`, as an expression no index gives: PostgreSQL then finds the
    rows first and sorts them, instead of walking the key's index."""
    return Concat(key, Value(""), output_field=TextField())


# Pages this deep are sorted as a whole (CustomerTable.rows_needed is then not given).
DEEPEST_MERGED_ROWS = 10_000


def rows_needed(page: str | None, per_page: str | None) -> int | None:
    """How many rows of a sorted list the requested page reaches: up to its last row and the
    one after it (CountLaterPaginator reads one row more). A page number that is not one is
    page 1, as the paginator takes it; None for a page deeper than DEEPEST_MERGED_ROWS."""
    try:
        number = max(int(page or 1), 1)
    except ValueError:
        number = 1
    needed = number * page_size(per_page) + 1
    return needed if needed <= DEEPEST_MERGED_ROWS else None


def count_summary(
    count: int, page: str | int | None, *, exact: bool = False, per_page: int | None = None
) -> dict:
    """What a list's count line says: `count` as counted by selectors.capped_count (COUNT_CAP + 1
    means more than COUNT_CAP) or, `exact`, as known on the last page; the page asked for and
    how many pages the count makes."""
    try:
        number = max(1, int(page or 1))
    except (TypeError, ValueError):
        number = 1
    capped = not exact and count > COUNT_CAP
    return {
        "count": count,
        "capped": capped,
        "cap": COUNT_CAP,
        "page": number,
        "pages": None if capped else max(1, -(-count // (per_page or PER_PAGE))),
    }


DASH = "–"


class FastRowsMixin:
    """Renders the page's rows as HTML in Python, cell by cell in the order of the table's
    columns: through the template engine, or django-tables2's per-cell rendering, 50 rows cost
    several times the rest of the list page. Subclasses give the row format and its cells as
    HTML: each record's own text escaped per cell, what rows share once per page
    (prepare_rows); the lists' escaping tests fill every cell with markup."""

    row_format = ""

    def row_values(self, record) -> tuple:
        raise NotImplementedError

    def rows_html(self) -> SafeString:
        records = [row.record for row in self.paginated_rows]
        if not records:
            return format_html(
                '<tr><td colspan="{}" class="text-body-secondary">{}</td></tr>',
                len(self.columns),
                self.empty_text,
            )
        self.prepare_rows(records)
        row_format, row_values = self.row_format, self.row_values
        return mark_safe("\n".join(row_format.format(*row_values(record)) for record in records))

    def prepare_rows(self, records: list) -> None:
        """What every row shares (URLs, labels), computed once per page."""

    @cached_property
    def fragment_key(self) -> str:
        """What the table's header and paging links depend on besides the count: the language and
        the query string (each link keeps every other parameter of it). The list templates keep
        those parts' HTML under this key ({% cache %}); a table lives for one request."""
        return f"{type(self).__name__}|{get_language()}|{self.request.GET.urlencode()}"


class Column(tables.Column):
    """A django-tables2 column that a table copies shallowly: Table.__init__ deep-copies every
    column (lazy labels, attrs, order_by) for every request, and the list tables never change a
    column per request."""

    def __deepcopy__(self, memo):
        return copy.copy(self)


class CustomerTable(FastRowsMixin, tables.Table):
    # Columns define the header and the sorting; the cells come from rows_html().
    number = Column(verbose_name=_("No."), order_by=("number",))
    name = Column(verbose_name=_("Name"), order_by=("name_key", "first_name_key", "id"))  # order_name
    place = Column(verbose_name=_("PLZ / city"), order_by=("postal_code", "id"))
    advisor = Column(verbose_name=_("Advisor"), order_by=("advisor_id", "id"))
    status = Column(verbose_name=_("Status"), order_by=("status", "id"))
    segment = Column(verbose_name=_("Class"), order_by=("segment", "revenue", "id"))
    revenue = Column(verbose_name=_("Revenue"), order_by=("revenue", "id"), attrs=MONEY_ATTRS)
    potential = Column(verbose_name=_("Potential"), order_by=("potential", "id"), attrs=MONEY_ATTRS)
    biggest_gap = Column(verbose_name=_("Biggest gap"), orderable=False)
    household = Column(verbose_name=_("Household"), orderable=False)

    class Meta:
        attrs = TABLE_ATTRS
        order_by = ("name",)
        empty_text = _("No customers match these filters.")
        default = "–"

    def __init__(
        self,
        *args,
        search_words: list[str] | None = None,
        unsearched_rows: QuerySet | None = None,
        rows_needed: int | None = None,
        rows_key: Any = None,
        **kwargs,
    ):
        # The words searched for (?q=), and how many rows of the sorted list the requested page
        # reaches (its last row and the one after it); both before the default order is applied.
        self.search_words = search_words or []
        self.unsearched_rows = unsearched_rows  # the same rows without the search
        self.rows_needed = rows_needed
        self.rows_key = rows_key  # what identifies the rows (selectors.list_key), if known
        self._sorts_matches: bool | None = None
        super().__init__(*args, **kwargs)

    def order_name(self, rows: QuerySet, is_descending: bool):
        if rows.query.combinator:  # merged already (the view and RequestConfig both sort)
            return rows.order_by(*self._merged_order(is_descending)), True
        word = split_word(self.search_words)
        if word and self.rows_needed and self._search_sorts_matches(rows):
            return self._found_at_name_start_first(rows, word, is_descending), True
        return self._order_found_matches(rows, (NAME_KEY, FIRST_NAME_KEY, F("id")), is_descending)

    def order_place(self, rows: QuerySet, is_descending: bool):
        return self._order_found_matches(rows, (F("postal_code"), F("id")), is_descending)

    def _search_sorts_matches(self, rows: QuerySet) -> bool:
        """selectors.search_sorts_matches, asked once per page (the view and RequestConfig both sort)."""
        if self._sorts_matches is None:
            self._sorts_matches = selectors.search_sorts_matches(rows, self.rows_key)
        return self._sorts_matches

    @staticmethod
    def _merged_order(is_descending: bool) -> list[str]:
        return [f"-{name}" if is_descending else name for name in ("sort_name", "sort_first_name", "id")]

    def _found_at_name_start_first(self, rows: QuerySet, word: str, is_descending: bool):
        """A one-word search of few matches sorted by name: the customers whose name starts with
        the word, read in order from customer_name_key_idx, and the others, found and sorted,
        each cut at the rows the page needs, then merged. A surname's matches are all in one
        place of the alphabet: "Müller" is 2.9 % of a book, and finding all of them to sort them
        cost 0.1-0.2 s at 1,000,000 customers, walking the name order until they come 1.7-2.4 s."""
        order = self._merged_order(is_descending)
        at_start, elsewhere = name_start_split(rows, word, self.unsearched_rows)
        at_start = at_start.annotate(sort_name=NAME_KEY, sort_first_name=FIRST_NAME_KEY)
        elsewhere = elsewhere.annotate(sort_name=fenced(NAME_KEY), sort_first_name=FIRST_NAME_KEY)
        parts = [part.order_by(*order)[: self.rows_needed] for part in (at_start, elsewhere)]
        return parts[0].union(parts[1], all=True).order_by(*order)

    def _order_found_matches(self, rows: QuerySet, keys: tuple, is_descending: bool):
        """A search that matches few customers is found first and sorted then: the first sort
        key is an expression no index provides (the same order), so PostgreSQL cannot walk the
        sort's index instead (selectors.search_sorts_matches tells when)."""
        if self.search_words and self._search_sorts_matches(rows):
            keys = (fenced(keys[0]), *keys[1:])
        return rows.order_by(*(key.desc() if is_descending else key.asc() for key in keys)), True

    row_format = (
        '<tr><td><a href="{0}">{1}</a></td><td><a href="{0}">{2}</a></td><td>{3}</td><td>{4}</td>'
        '<td>{5}</td><td>{6}</td><td class="money">{7}</td><td class="money">{8}</td><td>{9}</td>'
        "<td>{10}</td></tr>"
    )

    def prepare_rows(self, records: list[dict]) -> None:
        escape = html.escape
        # The detail URL is the list URL plus the id: one reverse() per page, not per row.
        self._list_url = escape(reverse("customers:list"))
        self._household_link = format_html(
            '<a href="?household={{0}}" hx-get="?household={{0}}" title="{}">{{1}}</a>',
            gettext("All members of the household"),
        )
        self._status_labels = {value: escape(str(label)) for value, label in Customer.Status.choices}
        self._badges = {segment: segment_badge(segment) for segment, _label in Customer.Segment.choices}
        self._money = money_formatter()  # digits, separators and the € sign: nothing to escape
        advisors, gaps = selectors.row_names(records)
        self._advisors = {pk: escape(name) for pk, name in advisors.items()}
        self._gaps = {pk: escape(name) for pk, name in gaps.items()}

    def row_values(self, c: dict) -> tuple:
        """One row from selectors.customer_rows (plain values, not model instances), as HTML."""
        escape = html.escape
        if c["household_id"]:
            household = self._household_link.format(c["household_id"], escape(c["household__name"]))
        else:
            household = DASH
        segment = c["segment"]
        return (
            f"{self._list_url}{c['id']}/",
            escape(c["number"]),
            escape(Customer.name_for_display(c["kind"], c["name"], c["first_name"])),
            escape(f"{c['postal_code']} {c['city']}".strip()),
            self._advisors[c["advisor_id"]] if c["advisor_id"] else DASH,
            self._status_labels.get(c["status"]) or escape(c["status"]),
            self._badges.get(segment) or segment_badge(segment),
            self._money(c["revenue"]),
            self._money(c["potential"]),
            self._gaps[c["biggest_gap_id"]] if c["biggest_gap_id"] else DASH,
            household,
        )


class ContractTable(FastRowsMixin, tables.Table):
    # Columns define the header and the sorting; the cells come from rows_html().
    policy_number = Column(verbose_name=_("Policy number"), order_by=("policy_number", "id"))
    customer = Column(
        verbose_name=_("Customer"), order_by=("customer__name", "customer__first_name", "customer_id", "id")
    )
    line_of_business = Column(verbose_name=_("Sparte"), order_by=("line_of_business_id", "id"))
    insurer = Column(verbose_name=_("Insurer"), order_by=("insurer__name", "id"))
    status = Column(verbose_name=_("Status"), order_by=("status", "id"))
    start_date = Column(verbose_name=_("Start"), order_by=("start_date", "id"))
    annual_premium = Column(
        verbose_name=_("Annual premium"), order_by=("annual_premium", "id"), attrs=MONEY_ATTRS
    )
    next_due = Column(
        verbose_name=_("Next Hauptfälligkeit"),
        accessor="due_rank",
        order_by=("due_rank", "id"),
        empty_values=(),
    )
    cancellation_deadline = Column(
        verbose_name=_("Cancellation deadline"), accessor="pk", orderable=False, empty_values=()
    )

    class Meta:
        attrs = TABLE_ATTRS
        empty_text = _("No contracts match these filters.")
        default = "–"

    def __init__(self, *args, today: dt.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()

    row_format = (
        '<tr{0}><td><a href="{1}">{2}</a></td><td><a href="{3}">{4}</a></td><td>{5}</td><td>{6}</td>'
        '<td>{7}</td><td>{8}</td><td class="money">{9}</td><td>{10}</td><td>{11}</td></tr>'
    )

    def prepare_rows(self, records: list[Contract]) -> None:
        # One reverse() per page: the contract and customer URLs are a prefix plus the id.
        escape = html.escape
        self._contract_url = escape(reverse("customers:contract_update", args=[0])).replace("/0/", "/{}/")
        self._customer_url = escape(reverse("customers:detail", args=[0])).replace("/0/", "/{}/")
        self._status_labels = {value: escape(str(label)) for value, label in gdv.CONTRACT_STATUSES}
        self._money = money_formatter()  # digits, separators and the € sign: nothing to escape

    def row_values(self, c: Contract) -> tuple:
        """One row as HTML (dates and amounts are digits and separators: nothing to escape)."""
        escape = html.escape
        return (
            "" if c.is_active else ' class="text-body-secondary"',
            self._contract_url.format(c.pk),
            escape(c.policy_number),
            self._customer_url.format(c.customer_id),
            escape(c.customer.display_name),
            escape(str(c.line_of_business)),
            escape(c.insurer.name),
            self._status_labels.get(c.status) or escape(c.status),
            short_date(c.start_date),
            self._money(c.annual_premium),
            short_date(c.next_main_due(self.today)),
            short_date(c.cancellation_deadline(self.today)),
        )


def short_date(value: dt.date | None) -> str:
    return date_format(value, "SHORT_DATE_FORMAT") if value else "–"


def ordered(table_class: type[tables.Table], queryset: QuerySet, sort: str | None) -> QuerySet:
    """The queryset in the order the table would show for this `sort` parameter."""
    table = table_class(queryset, order_by=sort or None)
    return table.data.data


# --- CSV --------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff" + writer.writerow([str(h) for h in header])
    for row in rows:
        yield writer.writerow(row)


def csv_decimal(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}".replace(".", ",")


def csv_date(value: dt.date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PHONE_CHARS = set("+0123456789 ()/-")


def csv_text(value: Any) -> str:
    """Text as it is, but never read by Excel as a formula (CSV injection); phone numbers such
    as +49 30 123 stay as they are."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not set(text) <= PHONE_CHARS:
        return "'" + text
    return text


def _field_label(model, name: str) -> str:
    return str(model._meta.get_field(name).verbose_name)


CustomerColumn = tuple[str, Callable[[Customer], str]]


def customer_csv_columns() -> list[CustomerColumn]:
    label = lambda name: _field_label(Customer, name)  # noqa: E731
    return [
        (label("number"), lambda c: csv_text(c.number)),
        (label("salutation"), lambda c: c.get_salutation_display()),
        (label("title"), lambda c: csv_text(c.title)),
        (label("first_name"), lambda c: csv_text(c.first_name)),
        (label("name"), lambda c: csv_text(c.name)),
        (label("birth_date"), lambda c: csv_date(c.birth_date)),
        (label("street"), lambda c: csv_text(c.street)),
        (label("postal_code"), lambda c: csv_text(c.postal_code)),
        (label("city"), lambda c: csv_text(c.city)),
        (label("country"), lambda c: csv_text(c.country)),
        (label("email"), lambda c: csv_text(c.email)),
        (label("phone"), lambda c: csv_text(c.phone)),
        (label("advisor"), lambda c: csv_text(c.advisor or "")),
        (label("status"), lambda c: c.get_status_display()),
        (label("household"), lambda c: csv_text(c.household or "")),
        (label("segment"), lambda c: c.segment),
        (label("revenue"), lambda c: csv_decimal(c.revenue)),
        (label("potential"), lambda c: csv_decimal(c.potential)),
        (label("biggest_gap"), lambda c: c.biggest_gap.code if c.biggest_gap else ""),
    ]


def customer_csv(customers: QuerySet[Customer]) -> Iterator[str]:
    columns = customer_csv_columns()
    rows = ([get(c) for _label, get in columns] for c in customers.iterator(chunk_size=CSV_CHUNK))
    return csv_stream([label for label, _get in columns], rows)


def contract_csv(contracts: QuerySet[Contract], today: dt.date) -> Iterator[str]:
    label = lambda name: _field_label(Contract, name)  # noqa: E731
    columns: list[tuple[str, Callable[[Contract], str]]] = [
        (_field_label(Customer, "number"), lambda c: csv_text(c.customer.number)),
        (label("customer"), lambda c: csv_text(c.customer.display_name)),
        (label("policy_number"), lambda c: csv_text(c.policy_number)),
        (label("insurer"), lambda c: csv_text(c.insurer.name)),
        (_("Sparte"), lambda c: c.line_of_business.code),
        (label("line_of_business"), lambda c: csv_text(c.line_of_business.short_name)),
        (label("status"), lambda c: c.get_status_display()),
        (label("start_date"), lambda c: csv_date(c.start_date)),
        (label("end_date"), lambda c: csv_date(c.end_date)),
        (label("main_due_date"), lambda c: csv_date(c.main_due_date)),
        (_("Next Hauptfälligkeit"), lambda c: csv_date(c.next_main_due(today))),
        (_("Cancellation deadline"), lambda c: csv_date(c.cancellation_deadline(today))),
        (label("notice_period_months"), lambda c: str(c.notice_period_months)),
        (label("payment_frequency"), lambda c: c.get_payment_frequency_display()),
        (label("annual_premium"), lambda c: csv_decimal(c.annual_premium)),
    ]
    rows = ([get(c) for _label, get in columns] for c in contracts.iterator(chunk_size=CSV_CHUNK))
    return csv_stream([str(label) for label, _get in columns], rows)
