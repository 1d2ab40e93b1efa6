"""The owner's dashboards (owner only: office staff get 403 and no menu entry)."""

from __future__ import annotations

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from brokercrm.accounts.roles import OWNER_PERMISSION

from . import selectors, services
from .drilldown import customer_csv, customer_table
from .forms import BinCellForm, DashboardFilterForm, MigrationCellForm

PAGE_SIZE = 50


class OwnerRequiredMixin(PermissionRequiredMixin):
    permission_required = OWNER_PERMISSION


def csv_response(rows, filename: str) -> StreamingHttpResponse:
    return StreamingHttpResponse(
        rows,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _board(request) -> tuple[DashboardFilterForm, selectors.Dashboard]:
    form = DashboardFilterForm(request.GET or None)
    filters = form.filters(today=timezone.localdate())
    form.initial_values(filters)
    run = selectors.latest_finished_run()
    board = selectors.dashboard(filters=filters, run=run, snapshot=services.snapshot_ensure(run=run))
    return form, board


def _url_or_empty(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


class DashboardView(OwnerRequiredMixin, TemplateView):
    template_name = "dashboards/dashboard.html"

    def get_context_data(self, **kwargs):
        form, board = _board(self.request)
        policy_url = _url_or_empty("segmentation:policy")
        return super().get_context_data(form=form, board=board, policy_url=policy_url, **kwargs)


class ExportView(OwnerRequiredMixin, View):
    """Any table of the dashboard as CSV: ?table=<name> and the dashboard's filters."""

    def get(self, request):
        _form, board = _board(request)
        name = request.GET.get("table", "")
        if name == "points":
            table = selectors.points_table(
                snapshot=board.snapshot, classified=board.matrix.total.customers, filters=board.filters
            )
        else:
            table = board.tables().get(name)
        if table is None:
            raise Http404(_("There is no such table."))
        return csv_response(table.csv(), f"dashboard-{name}-{timezone.localdate():%Y-%m-%d}.csv")


class PointsView(OwnerRequiredMixin, TemplateView):
    """The revenue × potential chart as a table."""

    template_name = "dashboards/points.html"

    def get_context_data(self, **kwargs):
        form, board = _board(self.request)
        table = selectors.points_table(
            snapshot=board.snapshot, classified=board.matrix.total.customers, filters=board.filters
        )
        return super().get_context_data(form=form, board=board, table=table, **kwargs)


class DrilldownView(OwnerRequiredMixin, View):
    """Customers behind one number of the dashboard, as a paginated table or CSV."""

    form_class: type[DashboardFilterForm]
    title = ""

    def customers(self, form, filters, restricted: bool = False):
        """(the customers to list, description); with ``restricted``: the restricted customers
        counted in the same figure, which the list leaves out (Art. 18 DSGVO)."""
        raise NotImplementedError

    def get(self, request):
        form = self.form_class(request.GET)
        if not form.is_valid():
            return TemplateResponse(
                request, "dashboards/drilldown.html", {"form": form, "title": self.title}, status=400
            )
        filters = form.filters(today=timezone.localdate())
        queryset, description = self.customers(form, filters)
        if request.GET.get("format") == "csv":
            return csv_response(
                customer_csv(queryset), f"dashboard-customers-{timezone.localdate():%Y-%m-%d}.csv"
            )
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "form": form,
            "title": self.title,
            "description": description,
            "page": page,
            "restricted": self.customers(form, filters, restricted=True)[0].count(),
        }
        return TemplateResponse(
            request, "dashboards/drilldown.html", {**context, "table": customer_table(page)}
        )


class MigrationCustomersView(DrilldownView):
    form_class = MigrationCellForm
    title = _("Class migration")

    def customers(self, form, filters, restricted: bool = False):
        old, new = form.cell()
        description = _("Class %(old)s on %(from)s, class %(new)s on %(to)s") % {
            "old": old or _("not classified"),
            "new": new or _("not classified"),
            "from": filters.date_from.strftime("%d.%m.%Y"),
            "to": filters.date_to.strftime("%d.%m.%Y"),
        }
        customers = selectors.migration_customers(filters=filters, old=old, new=new, restricted=restricted)
        return customers, description


class BinCustomersView(DrilldownView):
    form_class = BinCellForm
    title = _("Revenue and potential")

    def customers(self, form, filters, restricted: bool = False):
        data = form.cleaned_data
        snapshot = data["snapshot"]
        r_from, r_to = snapshot.bin_range("revenue", data["x"])
        p_from, p_to = snapshot.bin_range("potential", data["y"])
        description = _(
            "Class %(segment)s, revenue %(r_from)s–%(r_to)s €, potential %(p_from)s–%(p_to)s €"
        ) % {
            "segment": data["segment"],
            "r_from": r_from if data["x"] > 0 else "…",
            "r_to": r_to if data["x"] < snapshot.bins - 1 else "…",
            "p_from": p_from if data["y"] > 0 else "…",
            "p_to": p_to if data["y"] < snapshot.bins - 1 else "…",
        }
        queryset = selectors.bin_customers(
            snapshot=snapshot,
            segment=data["segment"],
            x=data["x"],
            y=data["y"],
            filters=filters,
            restricted=restricted,
        )
        return queryset, description
