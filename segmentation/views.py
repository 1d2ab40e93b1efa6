from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import CreateView, ListView, UpdateView

from brokercrm.accounts.roles import OWNER_PERMISSION
from customers.models import Customer

from . import selectors, services
from .forms import (
    ClassOverrideForm,
    PolicyForm,
    PotentialAdjustmentForm,
    RecommendationRuleForm,
    ThirdPartyContractForm,
)
from .history import policy_history
from .models import (
    ClassOverride,
    PotentialAdjustment,
    RecommendationRule,
    SegmentationPolicy,
    ThirdPartyContract,
)


class OwnerRequiredMixin(PermissionRequiredMixin):
    permission_required = OWNER_PERMISSION


# --- the explanation panel on the customer page ------------------------------------------------


class CustomerPanelMixin:
    """Renders the panel: the fragment for htmx (loaded lazily into the customer page), else a
    full page. Forms with errors are passed in by name."""

    def get_customer(self) -> Customer:
        return get_object_or_404(Customer, pk=self.kwargs["pk"])

    def render_panel(self, customer: Customer, **forms):
        user = self.request.user
        context = {
            "customer": customer,
            "explanation": selectors.customer_explanation(customer=customer),
            "tp_form": forms.get("tp_form") or ThirdPartyContractForm(),
            "adj_form": forms.get("adj_form") or PotentialAdjustmentForm(),
            "ovr_form": forms.get("ovr_form") or ClassOverrideForm(),
            "can_add_third_party": user.has_perm("segmentation.add_thirdpartycontract"),
            "can_delete_third_party": user.has_perm("segmentation.delete_thirdpartycontract"),
            "can_add_adjustment": user.has_perm("segmentation.add_potentialadjustment"),
            "can_delete_adjustment": user.has_perm("segmentation.delete_potentialadjustment"),
            "can_override": user.has_perm(OWNER_PERMISSION),
        }
        template = (
            "segmentation/partials/customer_panel.html"
            if self.request.htmx
            else "segmentation/customer_panel.html"
        )
        return TemplateResponse(self.request, template, context)

    def panel_done(self, customer: Customer):
        if self.request.htmx:
            return self.render_panel(customer)
        return redirect("segmentation:customer_panel", pk=customer.pk)


class CustomerPanelView(PermissionRequiredMixin, CustomerPanelMixin, View):
    permission_required = "customers.view_customer"

    def get(self, request, pk):
        return self.render_panel(self.get_customer())


class PanelFormView(PermissionRequiredMixin, CustomerPanelMixin, View):
    """POST a panel form: on success the service writes, on error the panel shows the form
    with the message at the field; nothing is saved."""

    form_class: type
    form_name: str

    def perform(self, customer: Customer, form) -> None:
        raise NotImplementedError

    def post(self, request, pk):
        customer = self.get_customer()
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                self.perform(customer, form)
                return self.panel_done(customer)
            except ValidationError as exc:
                form.add_error(None, exc)
        return self.render_panel(customer, **{self.form_name: form})


class ThirdPartyCreateView(PanelFormView):
    permission_required = "segmentation.add_thirdpartycontract"
    form_class, form_name = ThirdPartyContractForm, "tp_form"

    def perform(self, customer, form):
        services.third_party_contract_create(
            customer=customer, data=form.data_for_service, by=self.request.user
        )


class AdjustmentCreateView(PanelFormView):
    permission_required = "segmentation.add_potentialadjustment"
    form_class, form_name = PotentialAdjustmentForm, "adj_form"

    def perform(self, customer, form):
        services.potential_adjustment_create(
            customer=customer, data=form.data_for_service, by=self.request.user
        )


class OverrideSetView(PanelFormView):
    permission_required = OWNER_PERMISSION
    form_class, form_name = ClassOverrideForm, "ovr_form"

    def perform(self, customer, form):
        services.class_override_set(customer=customer, by=self.request.user, **form.cleaned_data)


class PanelDeleteView(PermissionRequiredMixin, CustomerPanelMixin, View):
    model: type

    def perform(self, obj) -> None:
        raise NotImplementedError

    def post(self, request, pk):
        obj = get_object_or_404(self.model.objects.select_related("customer"), pk=pk)
        self.perform(obj)
        return self.panel_done(obj.customer)


class ThirdPartyDeleteView(PanelDeleteView):
    permission_required, model = "segmentation.delete_thirdpartycontract", ThirdPartyContract

    def perform(self, obj):
        services.third_party_contract_delete(contract=obj)


class AdjustmentDeleteView(PanelDeleteView):
    permission_required, model = "segmentation.delete_potentialadjustment", PotentialAdjustment

    def perform(self, obj):
        services.potential_adjustment_delete(adjustment=obj)


class OverrideEndView(PanelDeleteView):
    permission_required, model = OWNER_PERMISSION, ClassOverride

    def perform(self, obj):
        services.class_override_end(override=obj, by=self.request.user)


# --- policy ------------------------------------------------------------------------------------

PREVIEW_FIELDS = (
    "revenue_method",
    "revenue_value",
    "potential_method",
    "potential_value",
    "hysteresis_percent",
    "revenue_window_months",
)


def _preview(values: dict):
    return selectors.policy_preview(**{name: values[name] for name in PREVIEW_FIELDS})


def _policy_page(request, form: PolicyForm, preview):
    context = {
        "form": form,
        "preview": preview,
        "versions": selectors.policy_versions(),
        "history": policy_history(),
    }
    return TemplateResponse(request, "segmentation/policy_edit.html", context)


class PolicyView(OwnerRequiredMixin, View):
    """The active policy as an editable form with a live preview; saving publishes a version."""

    def get(self, request):
        active = SegmentationPolicy.objects.get(is_active=True)
        form = PolicyForm(instance=active, initial={"note": ""})
        return _policy_page(request, form, _preview(model_to_dict(active)))

    def post(self, request):
        form = PolicyForm(request.POST)
        if not form.is_valid():
            return _policy_page(request, form, None)
        policy = services.policy_publish(data=form.policy_data, by=request.user)
        messages.success(
            request, _("Policy version %(version)s is now active.") % {"version": policy.version}
        )
        return redirect("segmentation:policy")


class PolicyPreviewView(OwnerRequiredMixin, View):
    """Preview of the edited, unsaved policy (htmx fragment; full page without JavaScript)."""

    def post(self, request):
        form = PolicyForm(request.POST)
        preview = _preview(form.cleaned_data) if form.is_valid() else None
        if not request.htmx:
            return _policy_page(request, form, preview)
        return TemplateResponse(
            request, "segmentation/partials/policy_preview.html", {"form": form, "preview": preview}
        )


# --- runs --------------------------------------------------------------------------------------

RUNS_SHOWN = 50


class RunListView(OwnerRequiredMixin, ListView):
    template_name = "segmentation/run_list.html"
    context_object_name = "runs"

    def get_queryset(self):
        return selectors.run_list()[:RUNS_SHOWN]

    def get_template_names(self):
        return ["segmentation/partials/run_table.html" if self.request.htmx else self.template_name]


class RunNowView(OwnerRequiredMixin, View):
    def post(self, request):
        try:
            run = services.reclassification_queue(as_of=timezone.localdate(), by=request.user)
        except services.QueueUnavailable as exc:
            messages.error(
                request,
                _("The job queue (Redis) cannot be reached, so nothing was started: %(error)s")
                % {"error": exc},
            )
            return redirect("segmentation:runs")
        if run is None:
            messages.info(request, _("The reclassification is queued; a worker will pick it up."))
        else:
            messages.success(
                request, _("Reclassification finished: %(changed)s class changes.") % {"changed": run.changed}
            )
        return redirect("segmentation:runs")


# --- recommendation rules ----------------------------------------------------------------------


class RuleListView(OwnerRequiredMixin, ListView):
    template_name = "segmentation/rule_list.html"
    context_object_name = "rules"

    def get_queryset(self):
        return selectors.rule_list()


class RuleFormMixin(OwnerRequiredMixin):
    model = RecommendationRule
    form_class = RecommendationRuleForm
    template_name = "segmentation/rule_form.html"
    success_url = reverse_lazy("segmentation:rule_list")

    def form_valid(self, form):
        self.object = services.recommendation_rule_save(rule=form.save(commit=False), by=self.request.user)
        messages.success(self.request, _("Rule saved. It counts from the next reclassification run."))
        return redirect(self.get_success_url())


class RuleCreateView(RuleFormMixin, CreateView):
    pass


class RuleUpdateView(RuleFormMixin, UpdateView):
    pass
