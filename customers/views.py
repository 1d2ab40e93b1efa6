"""Views of the customers app: thin wiring of selectors (reads), services (writes), forms,
tables and templates. Lists re-render only their table partial for htmx requests and work
the same as plain pages without JavaScript."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import CreateView, DetailView, FormView, TemplateView, UpdateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from brokercrm.accounts.roles import OWNER_PERMISSION

from . import selectors, services, tables
from .filters import ContractFilter, CustomerFilter
from .forms import (
    ActivityForm,
    BookingForm,
    ConsentForm,
    ConsentWithdrawForm,
    ContractForm,
    CustomerForm,
    OfficeSettingsForm,
)
from .models import Contract, Customer, MarketingConsent, OfficeSettings
from .panels import customer_panels

# --- shared wiring ----------------------------------------------------------------------------


class HtmxPartialMixin:
    """Renders only `partial_template_name` for htmx requests (not for history restores,
    which need the whole page)."""

    partial_template_name = ""

    def is_partial(self) -> bool:
        htmx = getattr(self.request, "htmx", None)
        return bool(htmx) and not htmx.history_restore_request

    def get_template_names(self):
        return [self.partial_template_name] if self.is_partial() else super().get_template_names()


def add_service_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError lands at the form's fields; unknown fields above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class ServiceFormMixin:
    """Hands a valid form to `perform` (a service call). What the service refuses is shown at
    the fields, an edit conflict above the form; nothing is saved in either case."""

    success_message = ""

    def perform(self, form):
        raise NotImplementedError

    def form_valid(self, form):
        try:
            self.object = self.perform(form)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        except services.EditConflict as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        if self.success_message:
            messages.success(self.request, self.success_message)
        return self.success_response()

    def success_response(self):
        return HttpResponseRedirect(self.get_success_url())


class CustomerChildMixin:
    """Views under /customers/<pk>/…: the customer comes from the URL."""

    @cached_property
    def customer(self) -> Customer:
        return get_object_or_404(selectors.customer_queryset(user=self.request.user), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        return super().get_context_data(customer=self.customer, **kwargs)

    def get_success_url(self) -> str:
        return reverse("customers:detail", args=[self.customer.pk])


def csv_response(rows, filename: str) -> StreamingHttpResponse:
    return StreamingHttpResponse(
        rows,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def customer_page_context(customer: Customer, user, activity_form=None) -> dict:
    return {
        "customer": customer,
        "page": selectors.customer_page(customer=customer, today=timezone.localdate(), user=user),
        "panels": customer_panels(customer),
        "activity_form": activity_form or ActivityForm(),
    }


# --- customers --------------------------------------------------------------------------------


class CustomerListView(PermissionRequiredMixin, HtmxPartialMixin, SingleTableMixin, FilterView):
    permission_required = "customers.view_customer"
    filterset_class = CustomerFilter
    table_class = tables.CustomerTable
    table_pagination = tables.PAGINATION
    template_name = "customers/customer_list.html"
    partial_template_name = "customers/partials/customer_table.html"

    def get_filterset(self, filterset_class):
        return selectors.customer_filter(filters=self.request.GET, user=self.request.user)

    def get_table_data(self):
        return selectors.customer_rows(super().get_table_data())

    def get_table_kwargs(self):
        # Unbound (no filters), the filterset has not made its form: none is needed then.
        filterset = self.filterset
        get = self.request.GET
        # The requested sort from the start, so a searched list does not ask how to sort by
        # name (the default) when it is sorted by revenue.
        words, unsearched = selectors.search_split(filterset)
        return {
            "search_words": words,
            # Only a search split by its word reads the list without it (CustomerTable.order_name).
            "unsearched_rows": None if unsearched is None else selectors.customer_rows(unsearched),
            "rows_needed": tables.rows_needed(get.get("page"), get.get("per_page")),
            # What identifies a searched list's rows: its kept estimate (selectors.match_estimate).
            "rows_key": selectors.list_key(filterset, self.request.user) if words else None,
            "order_by": get.get("sort") or None,
        }


class ListCountView(PermissionRequiredMixin, HtmxPartialMixin, TemplateView):
    """How many entries a list's filters match (at most tables.COUNT_CAP), for the count line
    above the table: the list page loads it through htmx once its rows are shown, as counting a
    large book costs more than the page of rows (tables.CountLaterPaginator). Without JavaScript
    the count line is a link here, and this is a page of its own with the way back."""

    template_name = "customers/list_count.html"
    partial_template_name = "customers/partials/list_count.html"
    list_url_name = ""
    title = ""

    def rows(self, request):
        raise NotImplementedError

    def count(self, request) -> int:
        return selectors.capped_count(self.rows(request), tables.COUNT_CAP)

    def get_context_data(self, **kwargs):
        get = self.request.GET
        count = self.count(self.request)
        return super().get_context_data(
            summary=tables.count_summary(
                count, get.get("page"), per_page=tables.page_size(get.get("per_page"))
            ),
            list_url=reverse(self.list_url_name),
            query=get.urlencode(),
            title=self.title,
            **kwargs,
        )


class CustomerCountView(ListCountView):
    permission_required = "customers.view_customer"
    list_url_name = "customers:list"
    title = _("Customers")

    def count(self, request) -> int:
        return selectors.customer_count(filters=request.GET, user=request.user, cap=tables.COUNT_CAP)


class CustomerExportView(PermissionRequiredMixin, View):
    permission_required = "customers.view_customer"

    def get(self, request):
        customers = selectors.customer_list(filters=request.GET, user=request.user)
        ordered = tables.ordered(tables.CustomerTable, customers, request.GET.get("sort"))
        return csv_response(tables.customer_csv(ordered), f"customers-{timezone.localdate():%Y-%m-%d}.csv")


class CustomerDetailView(PermissionRequiredMixin, DetailView):
    permission_required = "customers.view_customer"
    template_name = "customers/customer_detail.html"

    def get_queryset(self):
        return selectors.customer_detail_queryset(user=self.request.user)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **customer_page_context(self.object, self.request.user)}


class CustomerCreateView(PermissionRequiredMixin, ServiceFormMixin, CreateView):
    permission_required = "customers.add_customer"
    form_class = CustomerForm
    template_name = "customers/customer_form.html"
    success_message = _("Customer saved.")

    def get_initial(self):
        return {"advisor": self.request.user.pk}

    def perform(self, form):
        return services.customer_create(**form.service_kwargs(), by=self.request.user)

    def get_success_url(self) -> str:
        return reverse("customers:detail", args=[self.object.pk])


class CustomerUpdateView(PermissionRequiredMixin, ServiceFormMixin, UpdateView):
    permission_required = "customers.change_customer"
    form_class = CustomerForm
    template_name = "customers/customer_form.html"
    success_message = _("Customer saved.")

    def get_queryset(self):
        return selectors.customer_detail_queryset(user=self.request.user)

    def perform(self, form):
        return services.customer_update(customer=form.instance, **form.service_kwargs(), by=self.request.user)

    def get_success_url(self) -> str:
        return reverse("customers:detail", args=[self.object.pk])


class ActivityCreateView(PermissionRequiredMixin, CustomerChildMixin, ServiceFormMixin, FormView):
    """Logs a call, meeting, letter, e-mail or note; htmx gets the timeline partial back."""

    permission_required = "customers.add_activity"
    http_method_names = ["post"]
    form_class = ActivityForm

    def perform(self, form):
        return services.activity_create(customer=self.customer, data=form.cleaned_data, by=self.request.user)

    def success_response(self):
        if self.request.htmx:
            return self.render_to_response(self.get_context_data(form=ActivityForm()))
        return HttpResponseRedirect(self.get_success_url() + "#timeline")

    def get_template_names(self):
        if self.request.htmx:
            return ["customers/partials/activity_timeline.html"]
        return ["customers/customer_detail.html"]

    def get_context_data(self, form=None, **kwargs):
        if self.request.htmx:
            timeline = selectors.customer_timeline(customer=self.customer)
            return {"customer": self.customer, "activity_form": form, "timeline": timeline}
        return customer_page_context(self.customer, self.request.user, activity_form=form)


class ConsentGrantView(PermissionRequiredMixin, CustomerChildMixin, ServiceFormMixin, FormView):
    permission_required = "customers.add_marketingconsent"
    form_class = ConsentForm
    template_name = "customers/marketingconsent_form.html"
    success_message = _("Consent recorded.")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": MarketingConsent(customer=self.customer)}

    def perform(self, form):
        return services.consent_grant(customer=self.customer, **form.cleaned_data, by=self.request.user)


class ConsentWithdrawView(PermissionRequiredMixin, ServiceFormMixin, FormView):
    permission_required = "customers.change_marketingconsent"
    form_class = ConsentWithdrawForm
    template_name = "customers/marketingconsent_withdraw.html"
    success_message = _("Consent withdrawn.")

    @cached_property
    def consent(self) -> MarketingConsent:
        return get_object_or_404(selectors.consent_queryset(user=self.request.user), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        return super().get_context_data(consent=self.consent, customer=self.consent.customer, **kwargs)

    def perform(self, form):
        return services.consent_withdraw(consent=self.consent, **form.cleaned_data, by=self.request.user)

    def get_success_url(self) -> str:
        return reverse("customers:detail", args=[self.consent.customer_id])


# --- contracts and bookings -------------------------------------------------------------------


class ContractListView(PermissionRequiredMixin, HtmxPartialMixin, SingleTableMixin, FilterView):
    """Includes the renewal worklist: Hauptfälligkeit or cancellation deadline within N days."""

    permission_required = "customers.view_contract"
    filterset_class = ContractFilter
    table_class = tables.ContractTable
    table_pagination = tables.PAGINATION
    template_name = "customers/contract_list.html"
    partial_template_name = "customers/partials/contract_table.html"
    extra_context = {"renewal_windows": (30, 60, 90)}

    def get_filterset(self, filterset_class):
        return selectors.contract_filter(
            filters=self.request.GET, today=timezone.localdate(), user=self.request.user
        )

    def get_table_kwargs(self):
        return {"today": timezone.localdate()}


class ContractCountView(ListCountView):
    permission_required = "customers.view_contract"
    list_url_name = "customers:contract_list"
    title = _("Contracts")

    def rows(self, request):
        return selectors.contract_list(filters=request.GET, today=timezone.localdate(), user=request.user)


class ContractExportView(PermissionRequiredMixin, View):
    permission_required = "customers.view_contract"

    def get(self, request):
        today = timezone.localdate()
        contracts = selectors.contract_list(filters=request.GET, today=today, user=request.user)
        ordered = tables.ordered(tables.ContractTable, contracts, request.GET.get("sort"))
        return csv_response(tables.contract_csv(ordered, today), f"contracts-{today:%Y-%m-%d}.csv")


class ContractCreateView(PermissionRequiredMixin, CustomerChildMixin, ServiceFormMixin, CreateView):
    permission_required = "customers.add_contract"
    form_class = ContractForm
    template_name = "customers/contract_form.html"
    success_message = _("Contract saved.")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": Contract(customer=self.customer)}

    def perform(self, form):
        return services.contract_create(customer=self.customer, **form.service_kwargs(), by=self.request.user)


class ContractUpdateView(PermissionRequiredMixin, ServiceFormMixin, UpdateView):
    permission_required = "customers.change_contract"
    form_class = ContractForm
    template_name = "customers/contract_form.html"
    success_message = _("Contract saved.")

    def get_queryset(self):
        return selectors.contract_detail_queryset(user=self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(customer=self.object.customer, **kwargs)

    def perform(self, form):
        return services.contract_update(contract=form.instance, **form.service_kwargs(), by=self.request.user)

    def get_success_url(self) -> str:
        return reverse("customers:detail", args=[self.object.customer_id])


class ContractDeleteView(PermissionRequiredMixin, DetailView):
    """Asks for confirmation; a contract with bookings is protected and must be cancelled."""

    permission_required = "customers.delete_contract"
    template_name = "customers/contract_confirm_delete.html"
    context_object_name = "contract"

    def get_queryset(self):
        return selectors.contract_with_booking_count(user=self.request.user)

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        try:
            services.contract_delete(contract=self.object, by=request.user)
        except ValidationError as exc:
            return self.render_to_response(self.get_context_data(error=" ".join(exc.messages)))
        messages.success(request, _("Contract deleted."))
        return redirect("customers:detail", pk=self.object.customer_id)


class BookingCreateView(PermissionRequiredMixin, CustomerChildMixin, ServiceFormMixin, FormView):
    permission_required = "customers.add_commissionbooking"
    form_class = BookingForm
    template_name = "customers/commissionbooking_form.html"
    success_message = _("Courtage booked.")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "customer": self.customer}

    def get_initial(self):
        return {"contract": self.request.GET.get("contract")}

    def perform(self, form):
        return services.booking_create(customer=self.customer, data=form.cleaned_data, by=self.request.user)


# --- office settings --------------------------------------------------------------------------


class OfficeSettingsView(PermissionRequiredMixin, FormView):
    """Owner: whether office staff see the whole book or only the customers they advise."""

    permission_required = OWNER_PERMISSION
    form_class = OfficeSettingsForm
    template_name = "customers/officesettings_form.html"

    @cached_property
    def office(self) -> OfficeSettings:
        return OfficeSettings.load()

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.office}

    def form_valid(self, form):
        services.office_settings_update(
            staff_sees_own_customers_only=form.cleaned_data["staff_sees_own_customers_only"],
            by=self.request.user,
        )
        messages.success(self.request, _("Office settings saved."))
        return redirect("customers:office_settings")

    def get_context_data(self, **kwargs):
        history = self.office.history.select_related("history_user").order_by("-history_date")[:20]
        return super().get_context_data(history=history, **kwargs)
