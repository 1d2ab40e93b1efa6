from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.contrib.messages.views import SuccessMessageMixin
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import CreateView, TemplateView, UpdateView

from brokercrm.accounts.roles import OWNER_PERMISSION
from customers.models import Customer

from . import selectors, services
from .forms import (
    CapacityForm,
    CareActivityForm,
    CostSettingsForm,
    MinutesForm,
    ServiceLevelForm,
    TaskCloseForm,
    WorklistFilterForm,
)
from .history import catalogue_history
from .models import CareActivity, CareTask, CostSettings, ServiceLevel

VIEW_TASKS = "servicelevels.view_caretask"
CHANGE_TASKS = "servicelevels.change_caretask"


class OwnerRequiredMixin(PermissionRequiredMixin):
    permission_required = OWNER_PERMISSION


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# -- staff: worklist and tasks -----------------------------------------------------------------


class MyTasksView(PermissionRequiredMixin, TemplateView):
    """ "Meine Aufgaben": overdue, today, this week; filters by class, track, activity."""

    permission_required = VIEW_TASKS
    template_name = "servicelevels/caretask_list.html"

    def get_template_names(self):
        if self.request.htmx and not self.request.htmx.boosted:
            return ["servicelevels/partials/worklist.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        form = WorklistFilterForm(self.request.GET or None, user=self.request.user)
        filters = form.cleaned_data if form.is_valid() else {}
        worklist = selectors.care_task_worklist(
            user=self.request.user, filters=filters, today=timezone.localdate()
        )
        return super().get_context_data(
            form=form, worklist=worklist, show_assignee=self.request.user.is_owner, **kwargs
        )


class TaskCloseView(PermissionRequiredMixin, View):
    """Complete or skip one task (htmx: the row is swapped; plain POST: back to the list)."""

    permission_required = CHANGE_TASKS

    def post(self, request, pk: int):
        form = TaskCloseForm(request.POST)
        error = notice = None
        if not form.is_valid():
            error = _("Choose done or skip.")
        else:
            action = (
                services.care_task_complete
                if form.cleaned_data["action"] == "done"
                else services.care_task_skip
            )
            try:
                action(task_id=pk, by=request.user, outcome=form.cleaned_data["outcome"])
            except CareTask.DoesNotExist:
                error = _("This task does not exist (any more).")
            except services.TaskNotOpen as exc:
                error = exc.message
            except services.OutcomeRequired as exc:
                error = exc.message
            else:
                notice = _("Task completed.") if form.cleaned_data["action"] == "done" else _("Task skipped.")
        if request.htmx:
            task = get_object_or_404(CareTask.objects.with_related(), pk=pk)
            context = {
                "task": task,
                "error": error,
                "notice": notice,
                "today": timezone.localdate(),
                "show_assignee": request.user.is_owner,
                "outcome": request.POST.get("outcome", ""),
            }
            return TemplateResponse(request, "servicelevels/partials/task_row.html", context)
        (messages.error if error else messages.success)(request, error or notice)
        return redirect(_safe_next(request, reverse("servicelevels:my_tasks")))


class CustomerTasksView(PermissionRequiredMixin, TemplateView):
    """One customer's open and recently closed care tasks; a fragment for the customer page."""

    permission_required = VIEW_TASKS

    def get_template_names(self):
        if self.request.htmx:
            return ["servicelevels/partials/customer_tasks.html"]
        return ["servicelevels/customer_tasks.html"]

    def get_context_data(self, **kwargs):
        customer = get_object_or_404(Customer, pk=self.kwargs["pk"])
        tasks = selectors.customer_care_tasks(customer=customer)
        return super().get_context_data(customer=customer, tasks=tasks, today=timezone.localdate(), **kwargs)


# -- owner: catalogue, cost model, workload ----------------------------------------------------


class CatalogueView(OwnerRequiredMixin, TemplateView):
    """The service levels with their activities and the cost model."""

    template_name = "servicelevels/servicelevel_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            classes=selectors.cost_overview(),
            cost_settings=CostSettings.load(),
            minutes_errors={},
            history=catalogue_history(),
            **kwargs,
        )


class ActivityMinutesView(OwnerRequiredMixin, View):
    """Inline edit of an activity's minutes; answers with the class's card, figures recomputed."""

    def post(self, request, pk: int):
        activity = get_object_or_404(CareActivity.objects.select_related("service_level"), pk=pk)
        form = MinutesForm(request.POST, instance=activity)
        errors = {}
        if form.is_valid():
            try:
                services.care_activity_set_minutes(activity=activity, minutes=form.cleaned_data["minutes"])
            except ValidationError as exc:
                errors[pk] = {"messages": exc.messages, "value": request.POST.get("minutes", "")}
        else:
            errors[pk] = {"messages": form.errors["minutes"], "value": request.POST.get("minutes", "")}
        if request.htmx:
            [class_cost] = selectors.cost_overview(segments=[activity.service_level.segment])
            context = {"cc": class_cost, "minutes_errors": errors}
            return TemplateResponse(request, "servicelevels/partials/level_card.html", context)
        if errors:
            context = {
                "classes": selectors.cost_overview(),
                "cost_settings": CostSettings.load(),
                "minutes_errors": errors,
                "history": catalogue_history(),
            }
            return TemplateResponse(request, "servicelevels/servicelevel_list.html", context)
        messages.success(request, _("Minutes saved."))
        return redirect(f"{reverse('servicelevels:catalogue')}#level-{activity.service_level.segment}")


class ActivityCreateView(OwnerRequiredMixin, SuccessMessageMixin, CreateView):
    model = CareActivity
    form_class = CareActivityForm
    template_name = "servicelevels/careactivity_form.html"
    success_url = reverse_lazy("servicelevels:catalogue")
    success_message = _("Activity “%(name)s” added.")

    def get_initial(self):
        return {"service_level": self.request.GET.get("service_level")}


class ActivityUpdateView(OwnerRequiredMixin, SuccessMessageMixin, UpdateView):
    model = CareActivity
    form_class = CareActivityForm
    template_name = "servicelevels/careactivity_form.html"
    success_url = reverse_lazy("servicelevels:catalogue")
    success_message = _("Activity “%(name)s” saved.")


class ServiceLevelUpdateView(OwnerRequiredMixin, SuccessMessageMixin, UpdateView):
    model = ServiceLevel
    form_class = ServiceLevelForm
    template_name = "servicelevels/servicelevel_form.html"
    success_url = reverse_lazy("servicelevels:catalogue")
    success_message = _("Service level saved.")


class CostSettingsView(OwnerRequiredMixin, SuccessMessageMixin, UpdateView):
    form_class = CostSettingsForm
    template_name = "servicelevels/costsettings_form.html"
    success_url = reverse_lazy("servicelevels:catalogue")
    success_message = _("Cost model saved.")

    def get_object(self, queryset=None):
        return CostSettings.load()


class WorkloadView(OwnerRequiredMixin, TemplateView):
    """Planned minutes per person and week against the capacity the owner sets."""

    template_name = "servicelevels/workload.html"

    def get_context_data(self, **kwargs):
        workload = selectors.team_workload(today=timezone.localdate())
        return super().get_context_data(workload=workload, **kwargs)


class CapacityUpdateView(OwnerRequiredMixin, View):
    def post(self, request, user_pk: int):
        user = get_object_or_404(get_user_model(), pk=user_pk)
        form = CapacityForm(request.POST)
        if form.is_valid():
            services.weekly_capacity_set(user=user, minutes_per_week=form.cleaned_data["minutes_per_week"])
            messages.success(request, _("Capacity of %(user)s saved.") % {"user": user})
        else:
            messages.error(
                request,
                _("Capacity of %(user)s: %(error)s")
                % {"user": user, "error": " ".join(form.errors["minutes_per_week"])},
            )
        return redirect("servicelevels:workload")
