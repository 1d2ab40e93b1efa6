"""The filters of the customer list and the contract list (django-filter).

Every filter maps to an indexed column or a QuerySet method, so a filtered page stays fast on a
book of a million customers.
"""

import contextlib
import copy
import datetime as dt
import hashlib
import itertools
import time

import django_filters
from django import forms
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.choices import BaseChoiceIterator
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_filters.filters import FilterMethod

from brokercrm.accounts.models import User
from brokercrm.forms import BootstrapFormMixin
from brokercrm.kept import kept

from . import gdv
from .models import Contract, Customer, Household, Insurer, LineOfBusiness

UNCLASSIFIED = "none"
SEGMENT_CHOICES = [*((s, s) for s in ("A", "B", "C", "O")), (UNCLASSIFIED, _("not classified"))]
MAX_DUE_DAYS = 366
TABLE_PARAMETERS = frozenset({"sort", "page", "per_page"})  # the table's, not the filter form's


class FilterForm(BootstrapFormMixin, forms.Form):
    pass


class FixedChoices(BaseChoiceIterator):
    """(value, label) pairs in Django's normal form that never change once made.

    Forms take a choice iterator as it is, so the pairs are not normalized again on every pass
    (django-filter's choice fields normalize their choices each time they are iterated: when the
    form validates and when it renders); copies of a form's fields share it; and FastSelect keeps
    the rendered <option>s on it, per language and selection."""

    def __init__(self, pairs):
        self.pairs = tuple((value, label) for value, label in pairs)
        self._options: dict[tuple[str, frozenset[str]], str] = {}
        self._fingerprints: dict[str, str] = {}

    def __iter__(self):
        return iter(self.pairs)

    def __len__(self):
        return len(self.pairs)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def fingerprint(self) -> str:
        """A short digest of the pairs as shown in the current language (a key for fragments
        of pages that list them)."""
        language = get_language() or ""
        digest = self._fingerprints.get(language)
        if digest is None:
            digest = self._fingerprints[language] = hashlib.md5(
                repr(_as_text(self.pairs)).encode(), usedforsecurity=False
            ).hexdigest()
        return digest

    def options_html(self, selected: frozenset[str]) -> str:
        key = (get_language() or "", selected)
        html = self._options.get(key)
        if html is None:
            if len(self._options) > 256:  # a bound on odd selections
                self._options.clear()
            html = self._options[key] = _options_html(_as_text(self.pairs), selected)
        return html


def _as_text(choices) -> tuple[tuple[str, str], ...]:
    return tuple((str(v), str(label)) for v, label in choices)


class FastSelect(forms.Select):
    """A select whose options are rendered in Python: rendering the ~170 Sparten through
    Django's per-option widget templates costs more than the rest of the list page. Options from
    FixedChoices are rendered once per language and selection (list pages draw the same selects
    on every request); django-filter puts its empty choice in front of them."""

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        selected = frozenset(self.format_value(value))
        return format_html("<select{}>{}</select>", flatatt(final_attrs), self.options_html(selected))

    def options_html(self, selected: frozenset[str]) -> str:
        choices = self.choices
        fixed = getattr(choices, "choices", choices)  # django-filter wraps the field's choices
        if not isinstance(fixed, FixedChoices):
            return _options_html(_as_text(choices), selected)
        head = _as_text(itertools.islice(choices, len(choices) - len(fixed))) if choices is not fixed else ()
        return _options_html(head, selected) + fixed.options_html(selected)


def _options_html(choices: tuple[tuple[str, str], ...], selected: frozenset[str]) -> str:
    """The <option>s of a select (labels already translated)."""
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((v, mark_safe(" selected") if v in selected else "", label) for v, label in choices),
    )


class FastTextInput(forms.TextInput):
    """A text input rendered in Python, for the same reason as FastSelect: the list pages'
    filter forms are drawn on every request."""

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "type": self.input_type, "name": name})
        value = self.format_value(value)
        if value is not None:
            final_attrs["value"] = value
        return format_html("<input{}>", flatatt(final_attrs))


def _lines():
    """(code, "code short name") of every Sparte."""
    return (
        (code, f"{code} {short}") for code, short in LineOfBusiness.objects.values_list("code", "short_name")
    )


def _advisors():
    users = User.objects.filter(is_active=True).order_by("last_name", "first_name", "username")
    return (
        (pk, User.name_for_display(first, last, username))
        for pk, first, last, username in users.values_list("pk", "first_name", "last_name", "username")
    )


def _insurers():
    return Insurer.objects.order_by("name").values_list("pk", "name")


# The choices of the database-backed selects, kept per process (brokercrm.kept): reference
# data for minutes, the short lists of advisors and insurers for a minute.
line_choices = kept(_lines, seconds=300, cleared_by="customers.LineOfBusiness", make=FixedChoices)
advisor_choices = kept(_advisors, seconds=60, cleared_by="accounts.User", make=FixedChoices)
insurer_choices = kept(_insurers, seconds=60, cleared_by="customers.Insurer", make=FixedChoices)


class _BaseFilters(dict):
    """The base filters of a FilterSet class. Each FilterSet instance deep-copies them to own its
    filters (django-filter); that copy is made here filter by filter and shallow, as a filter's
    own state is its `extra` (ChoicesOnceMixin sets the choices in it per request), its bound
    `method` and its parent and model (set by the instance): ~0.4 ms a list page."""

    def __deepcopy__(self, memo):
        return {name: _own_filter(f) for name, f in self.items()}


def _own_filter(base: django_filters.Filter) -> django_filters.Filter:
    own = copy.copy(base)
    own.extra = dict(base.extra)
    own.__dict__.pop("_field", None)  # the form field is made for each instance
    if isinstance(base.__dict__.get("filter"), FilterMethod):
        own.filter = FilterMethod(own)  # bound to this copy and so to its parent FilterSet
    return own


class _FieldsOfOneForm(dict):
    """The base fields of a form class made for one FilterSet instance (`get_form_class`): its
    filters made them just now for this form alone, so the form's deep copy of them (widgets,
    ~350 choices of the Sparten selects) is skipped."""

    def __deepcopy__(self, memo):
        return dict(self)


class ValidatedFilters:
    """The cleaned values of valid filter forms, by FilterSet.fragment_key (language, submitted
    values, choices), for `seconds`, in this process: paging through a filtered list and the
    count line that follows each page submit the same filters again, and building and
    validating the form costs more than the rest of filtering. Invalid input is never kept,
    so its errors are always the form's own; a household deleted meanwhile filters to no rows
    (instead of "no such household") until its entry is older than `seconds`. At most `size`
    entries (the oldest go first)."""

    def __init__(self, seconds: float, size: int):
        self.seconds, self.size = seconds, size
        self._kept: dict[str, tuple[float, dict]] = {}

    def get(self, key: str) -> dict | None:
        kept = self._kept.get(key)
        if kept is None or time.monotonic() - kept[0] > self.seconds:
            return None
        return dict(kept[1])

    def put(self, key: str, cleaned: dict) -> None:
        if len(self._kept) >= self.size:
            # Another thread may have made room meanwhile.
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                self._kept.pop(next(iter(self._kept)))
        self._kept[key] = (time.monotonic(), dict(cleaned))

    def clear(self) -> None:
        self._kept.clear()


validated_filters = ValidatedFilters(seconds=60, size=1000)


def _fingerprint(choices) -> str:
    return choices.fingerprint() if isinstance(choices, FixedChoices) else repr(tuple(choices))


class ChoicesOnceMixin:
    """Reads the choices of database-backed selects once per request (`choice_sources`), and
    builds the filter form without copying its freshly made fields again; filters already
    validated with the same values are applied without building the form (ValidatedFilters)."""

    def is_valid(self) -> bool:
        return self.is_bound and self.cleaned is not None

    @property
    def errors(self):
        return {} if self.is_valid() else self.form.errors

    @property
    def cleaned(self) -> dict | None:
        """The form's cleaned data, None if the input is invalid (bound filtersets only)."""
        if not hasattr(self, "_cleaned"):
            key = self.filters_key
            cleaned = validated_filters.get(key)
            if cleaned is None and self.form.is_valid():
                cleaned = self.form.cleaned_data
                validated_filters.put(key, cleaned)
            self._cleaned = cleaned
        return self._cleaned

    def filter_queryset(self, queryset, without: str = ""):
        # django-filter's, from the cleaned values instead of the form.
        for name, value in self.cleaned.items():
            if name != without:
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    def qs_without(self, name: str):
        """`qs` as if filter `name` had not been submitted (a valid filterset only)."""
        return self.filter_queryset(self.queryset.all(), without=name)

    choice_sources: dict = {}

    @classmethod
    def get_filters(cls):
        return _BaseFilters(super().get_filters())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, source in self.choice_sources.items():
            self.filters[name].extra["choices"] = source()

    @cached_property
    def fragment_key(self) -> str:
        """Everything the rendered filter form depends on: the language, the submitted values of
        its fields (and so their errors) and the database-backed choices. The list templates
        keep the form's HTML under this key ({% cache %}), as drawing it costs more than a
        database round trip."""
        # From the submitted data, not the form: on a hit the form is never built. Every
        # parameter but the table's own counts (a widget may submit several).
        data = self.data
        values = tuple(
            sorted(
                (name, tuple(data.getlist(name)) if hasattr(data, "getlist") else data[name])
                for name in data
                if name not in TABLE_PARAMETERS
            )
        )
        choices = tuple(_fingerprint(self.filters[name].extra["choices"]) for name in self.choice_sources)
        return repr((get_language(), values, choices))

    @property
    def filters_key(self) -> str:
        """fragment_key with the FilterSet's class: what its cleaned values (ValidatedFilters) and
        a searched list's estimate (selectors.list_key) are kept by."""
        return f"{type(self).__name__}|{self.fragment_key}"

    def get_form_class(self):
        # django-filter makes the form class per instance from `filter.field` of the instance's
        # own (deep-copied) filters: the fields belong to this form only.
        form_class = super().get_form_class()
        form_class.base_fields = _FieldsOfOneForm(form_class.base_fields)
        return form_class


class CustomerFilter(ChoicesOnceMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        widget=FastTextInput(
            attrs={
                "type": "search",
                "placeholder": _("name, customer no., PLZ or city"),
                "autocomplete": "off",
            }
        ),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=FixedChoices(Customer.Status.choices), widget=FastSelect
    )
    segment = django_filters.ChoiceFilter(
        label=_("Class"), choices=FixedChoices(SEGMENT_CHOICES), method="filter_segment", widget=FastSelect
    )
    advisor = django_filters.ChoiceFilter(label=_("Advisor"), field_name="advisor_id", widget=FastSelect)
    holding_line = django_filters.ChoiceFilter(
        label=_("Holds line of business"), method="filter_holding_line", widget=FastSelect
    )
    biggest_gap = django_filters.ChoiceFilter(
        label=_("Biggest gap"), method="filter_biggest_gap", widget=FastSelect
    )
    plz = django_filters.CharFilter(
        label=_("PLZ starts with"),
        method="filter_plz",
        widget=FastTextInput(attrs={"inputmode": "numeric", "placeholder": "06"}),
    )
    household = django_filters.ModelChoiceFilter(
        label=_("Household no."),
        queryset=Household.objects.all(),
        widget=FastTextInput(attrs={"inputmode": "numeric"}),
    )
    min_revenue = django_filters.NumberFilter(
        label=_("Revenue at least"),
        field_name="revenue",
        lookup_expr="gte",
        localize=True,
        widget=FastTextInput(attrs={"inputmode": "decimal"}),
    )
    min_potential = django_filters.NumberFilter(
        label=_("Potential at least"),
        field_name="potential",
        lookup_expr="gte",
        localize=True,
        widget=FastTextInput(attrs={"inputmode": "decimal"}),
    )

    choice_sources = {"advisor": advisor_choices, "holding_line": line_choices, "biggest_gap": line_choices}

    class Meta:
        model = Customer
        fields: list[str] = []
        form = FilterForm

    def filter_search(self, queryset, name, value):
        return queryset.search(value)

    def filter_segment(self, queryset, name, value):
        return queryset.filter(segment="" if value == UNCLASSIFIED else value)

    def filter_plz(self, queryset, name, value):
        return queryset.postal_code_starting(value.strip())

    def filter_holding_line(self, queryset, name, value):
        return queryset.holding_line(value)

    def filter_biggest_gap(self, queryset, name, value):
        return queryset.with_biggest_gap(value)


class ContractFilter(ChoicesOnceMixin, django_filters.FilterSet):
    policy = django_filters.CharFilter(
        label=_("Policy number"), field_name="policy_number", lookup_expr="startswith", widget=FastTextInput
    )
    line_of_business = django_filters.ChoiceFilter(
        label=_("Line of business"), field_name="line_of_business__code", widget=FastSelect
    )
    insurer = django_filters.ChoiceFilter(label=_("Insurer"), field_name="insurer_id", widget=FastSelect)
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=FixedChoices(gdv.CONTRACT_STATUSES), widget=FastSelect
    )
    due_within = django_filters.NumberFilter(
        label=_("Hauptfälligkeit or cancellation deadline within (days)"),
        method="filter_due_within",
        min_value=0,
        max_value=MAX_DUE_DAYS,
        widget=FastTextInput(attrs={"type": "number", "min": 0, "max": MAX_DUE_DAYS}),
    )

    choice_sources = {"line_of_business": line_choices, "insurer": insurer_choices}

    class Meta:
        model = Contract
        fields: list[str] = []
        form = FilterForm

    def __init__(self, *args, today: dt.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()

    def filter_due_within(self, queryset, name, value):
        return queryset.due_within(int(value), self.today)
