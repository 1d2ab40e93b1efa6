"""The audit trail panel of the customer page and the data protection pages (DSGVO): the
export for an access request (Art. 15), the erasure request (Art. 17/18), and the register of
requests. Everything but the history is owner-only."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, ListView

from brokercrm.accounts.roles import OWNER_PERMISSION

from . import privacy
from .history import customer_history
from .models import Customer
from .privacy_forms import AccessRequestForm, ErasureRequestForm
from .views import add_service_errors


class PrivacyCustomerMixin:
    @cached_property
    def customer(self) -> Customer:
        customers = Customer.objects.visible_to(self.request.user).select_related("household")
        return get_object_or_404(customers, pk=self.kwargs["pk"])


def history_context(request, customer: Customer, access_form=None) -> dict:
    owner = request.user.has_perm(OWNER_PERMISSION)
    return {
        "customer": customer,
        "entries": customer_history(customer=customer),
        "can_manage_privacy": owner,
        "privacy_requests": privacy.customer_privacy_requests(customer=customer) if owner else [],
        "access_form": access_form or (AccessRequestForm() if owner else None),
    }


class HistoryPanelView(PermissionRequiredMixin, PrivacyCustomerMixin, View):
    """The customer page's panel: the fragment for htmx, else a page of its own."""

    permission_required = "customers.view_customer"

    def get(self, request, pk):
        template = (
            "customers/partials/history_panel.html"
            if request.htmx
            else "customers/privacy/customer_history.html"
        )
        return TemplateResponse(request, template, history_context(request, self.customer))


class DataExportView(PermissionRequiredMixin, PrivacyCustomerMixin, View):
    """Art. 15: POST the date the request came in, get the ZIP of everything stored."""

    permission_required = OWNER_PERMISSION

    def get(self, request, pk):
        return TemplateResponse(
            request, "customers/privacy/customer_history.html", history_context(request, self.customer)
        )

    def post(self, request, pk):
        form = AccessRequestForm(request.POST)
        if form.is_valid():
            name, content = privacy.customer_export(
                customer=self.customer, by=request.user, **form.cleaned_data
            )
            return HttpResponse(
                content,
                content_type="application/zip",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        context = history_context(request, self.customer, access_form=form)
        return TemplateResponse(request, "customers/privacy/customer_history.html", context, status=400)


class ErasureRequestView(PermissionRequiredMixin, PrivacyCustomerMixin, FormView):
    """Art. 17/18: shows what will be erased, deleted and retained, then carries it out."""

    permission_required = OWNER_PERMISSION
    form_class = ErasureRequestForm
    template_name = "customers/privacy/erasure_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "customer": self.customer}

    def get_context_data(self, **kwargs):
        plan = (
            None
            if self.customer.is_restricted
            else privacy.erasure_plan(customer=self.customer, on=timezone.localdate())
        )
        return super().get_context_data(customer=self.customer, plan=plan, **kwargs)

    def form_valid(self, form):
        data = {k: v for k, v in form.cleaned_data.items() if k != "confirm_number"}
        try:
            request = privacy.customer_erase(customer=self.customer, by=self.request.user, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("The erasure request has been carried out."))
        if request.customer_id:
            return redirect("customers:detail", pk=request.customer_id)
        return redirect("customers:privacy_register")


class PrivacyRegisterView(PermissionRequiredMixin, ListView):
    """Every access and erasure request, with what was done and until when data is retained."""

    permission_required = OWNER_PERMISSION
    template_name = "customers/privacy/privacyrequest_list.html"
    context_object_name = "requests"
    paginate_by = 50

    def get_queryset(self):
        return privacy.privacy_request_queryset()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["rows"] = [
            {"request": r, "sections": privacy.summary_sections(r.summary)} for r in context["object_list"]
        ]
        return context
