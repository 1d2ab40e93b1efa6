"""The dashboards' filters (GET): advisor and period; the drill-down parameters."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from brokercrm.accounts.models import User
from brokercrm.forms import BootstrapFormMixin, DateInput

from .models import RunSnapshot
from .selectors import CLASSES, MATRIX_CLASSES, Filters, class_from_token, class_token, default_period

DATE_FORMATS = ["%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y"]
MAX_PERIOD_DAYS = 10 * 366


def _advisors():
    return User.objects.filter(is_active=True).order_by("last_name", "first_name", "username")


class DashboardFilterForm(BootstrapFormMixin, forms.Form):
    """Advisor and period. Invalid input is shown at the field and the defaults are used."""

    advisor = forms.ModelChoiceField(
        label=_("Advisor"), queryset=_advisors(), required=False, empty_label=_("all advisors")
    )

    def clean(self):
        data = super().clean()
        first, last = data.get("from"), data.get("to")
        if first and last:
            if first > last:
                self.add_error("from", _("The start must not lie after the end."))
            elif (last - first).days > MAX_PERIOD_DAYS:
                self.add_error("from", _("Choose a period of at most ten years."))
        return data

    def filters(self, *, today: dt.date) -> Filters:
        default_from, default_to = default_period(today)
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        last = data.get("to") or default_to
        first = data.get("from") or (default_from if last == default_to else _month_before(last))
        return Filters(date_from=first, date_to=last, advisor=data.get("advisor"))

    def initial_values(self, filters: Filters) -> None:
        """Shows the period in force in an unbound form."""
        if not self.is_bound:
            self.initial.update(
                {"from": filters.date_from, "to": filters.date_to, "advisor": filters.advisor}
            )


# "from" and "to" are the URL parameters; "from" is a Python keyword, so both are declared here.
for _name, _label in (("from", _("From")), ("to", _("To"))):
    _field = forms.DateField(label=_label, required=False, input_formats=DATE_FORMATS, widget=DateInput())
    DashboardFilterForm.base_fields[_name] = DashboardFilterForm.declared_fields[_name] = _field


def _month_before(day: dt.date) -> dt.date:
    from segmentation.services import months_before

    return months_before(day, 1)


class MigrationCellForm(DashboardFilterForm):
    """One cell of the migration matrix: the period, the advisor, the class then and now."""

    old = forms.ChoiceField(choices=[(class_token(s), s or "-") for s in MATRIX_CLASSES])
    new = forms.ChoiceField(choices=[(class_token(s), s or "-") for s in MATRIX_CLASSES])

    def cell(self) -> tuple[str, str]:
        return class_from_token(self.cleaned_data["old"]), class_from_token(self.cleaned_data["new"])


class BinCellForm(DashboardFilterForm):
    """One cell of the revenue × potential density of a snapshot."""

    snapshot = forms.ModelChoiceField(queryset=RunSnapshot.objects.all())
    segment = forms.ChoiceField(choices=[(s, s) for s in CLASSES])
    x = forms.IntegerField(min_value=0)
    y = forms.IntegerField(min_value=0)

    def clean(self):
        data = super().clean()
        snapshot = data.get("snapshot")
        for axis in ("x", "y"):
            if snapshot is not None and data.get(axis) is not None and data[axis] >= snapshot.bins:
                self.add_error(axis, _("There is no such cell."))
        return data
