"""Filters of the exports. They take the same query parameters as the lists (`q`, `status`, …),
so a list page exports exactly what it shows by linking to the export with its query string."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers import gdv
from customers.models import CommissionBooking, Contract, Customer, Insurer


class CustomerExportFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("search"))
    status = django_filters.ChoiceFilter(choices=Customer.Status.choices)
    segment = django_filters.ChoiceFilter(choices=[c for c in Customer.Segment.choices if c[0]])
    kind = django_filters.ChoiceFilter(choices=Customer.Kind.choices)
    city = django_filters.CharFilter(lookup_expr="icontains")
    postal_code = django_filters.CharFilter(lookup_expr="startswith")
    advisor = django_filters.NumberFilter(field_name="advisor_id")

    class Meta:
        model = Customer
        fields: list[str] = []

    def search(self, queryset, name, value):
        return queryset.search(value)


class ContractExportFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("search"))
    status = django_filters.ChoiceFilter(choices=gdv.CONTRACT_STATUSES)
    insurer = django_filters.ModelChoiceFilter(queryset=Insurer.objects.all())
    line_of_business = django_filters.CharFilter(field_name="line_of_business__code")
    customer = django_filters.CharFilter(field_name="customer__number")

    class Meta:
        model = Contract
        fields: list[str] = []

    def search(self, queryset, name, value):
        for word in value.split():
            queryset = queryset.filter(
                Q(policy_number__icontains=word)
                | Q(customer__number__iexact=word)
                | Q(customer__name__icontains=word)
                | Q(insurer__name__icontains=word)
            )
        return queryset


class BookingExportFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("search"))
    kind = django_filters.ChoiceFilter(choices=CommissionBooking.Kind.choices)
    insurer = django_filters.ModelChoiceFilter(field_name="contract__insurer", queryset=Insurer.objects.all())
    customer = django_filters.CharFilter(field_name="contract__customer__number")
    contract = django_filters.NumberFilter(field_name="contract_id")
    date_from = django_filters.DateFilter(field_name="booked_on", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="booked_on", lookup_expr="lte")

    class Meta:
        model = CommissionBooking
        fields: list[str] = []

    def search(self, queryset, name, value):
        for word in value.split():
            queryset = queryset.filter(
                Q(contract__policy_number__icontains=word)
                | Q(statement_reference__icontains=word)
                | Q(contract__customer__number__iexact=word)
                | Q(contract__customer__name__icontains=word)
            )
        return queryset


EXPORT_FILTERS = {
    "customers": CustomerExportFilter,
    "contracts": ContractExportFilter,
    "bookings": BookingExportFilter,
}
