from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from brokercrm.forms import BootstrapFormMixin, DateInput
from customers import gdv
from customers.models import Customer

from .models import (
    CLASSES,
    PotentialAdjustment,
    RecommendationRule,
    SegmentationPolicy,
    ThirdPartyContract,
    ThresholdMethod,
)

NEGATIVE_THRESHOLD = _("A threshold cannot be negative.")
QUANTILE_RANGE = _("A top quantile must be more than 0 and less than 100 %.")
PARETO_RANGE = _("A Pareto share must be more than 0 and at most 100 %.")
NOT_NEGATIVE = _("This amount cannot be negative.")
EXPIRY_IN_PAST = _("The expiry must not lie in the past.")


def threshold_error(method: str, value: Decimal | None) -> str | None:
    if value is None:
        return None
    if method == ThresholdMethod.ABSOLUTE and value < 0:
        return NEGATIVE_THRESHOLD
    if method == ThresholdMethod.QUANTILE and not (0 < value < 100):
        return QUANTILE_RANGE
    if method == ThresholdMethod.PARETO and not (0 < value <= 100):
        return PARETO_RANGE
    return None


class PolicyForm(BootstrapFormMixin, forms.ModelForm):
    """Edits a copy of the active policy; saving publishes a new version."""

    class Meta:
        model = SegmentationPolicy
        fields = [
            "revenue_method",
            "revenue_value",
            "potential_method",
            "potential_value",
            "hysteresis_percent",
            "revenue_window_months",
            "note",
        ]
        widgets = {
            "revenue_value": forms.NumberInput(attrs={"step": "0.01"}),
            "potential_value": forms.NumberInput(attrs={"step": "0.01"}),
            "hysteresis_percent": forms.NumberInput(attrs={"step": "0.1"}),
        }

    def clean(self):
        data = super().clean()
        for prefix in ("revenue", "potential"):
            error = threshold_error(data.get(f"{prefix}_method"), data.get(f"{prefix}_value"))
            if error:
                self.add_error(f"{prefix}_value", error)
        return data

    @property
    def policy_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class RecommendationRuleForm(BootstrapFormMixin, forms.ModelForm):
    occupations = forms.MultipleChoiceField(
        label=_("occupations"),
        required=False,
        choices=[(v, label) for v, label in Customer.Occupation.choices if v],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any occupation."),
    )
    marital_statuses = forms.MultipleChoiceField(
        label=_("marital statuses"),
        required=False,
        choices=gdv.MARITAL_STATUSES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any marital status."),
    )

    class Meta:
        model = RecommendationRule
        fields = [
            "name",
            "line_of_business",
            "customer_kind",
            "min_age",
            "max_age",
            "homeowner",
            "car_owner",
            "has_children",
            "occupations",
            "marital_statuses",
            "scope",
            "per_car",
            "expected_commission",
            "is_active",
            "note",
        ]
        widgets = {
            "homeowner": forms.NullBooleanSelect,
            "car_owner": forms.NullBooleanSelect,
            "has_children": forms.NullBooleanSelect,
        }
        error_messages = {"expected_commission": {"min_value": NOT_NEGATIVE}}

    def _in_choice_order(self, name: str) -> list[str]:
        """Stored in the order of the choices, whatever order they were sent in, so saving the
        edit page again changes nothing."""
        ticked = set(self.cleaned_data[name])
        return [value for value, _label in self.fields[name].choices if value in ticked]

    def clean_occupations(self) -> list[str]:
        return self._in_choice_order("occupations")

    def clean_marital_statuses(self) -> list[str]:
        return self._in_choice_order("marital_statuses")

    def clean(self):
        data = super().clean()
        low, high = data.get("min_age"), data.get("max_age")
        if low is not None and high is not None and low > high:
            self.add_error("max_age", _("The maximum age must not be below the minimum age."))
        return data


class ThirdPartyContractForm(BootstrapFormMixin, forms.ModelForm):
    prefix = "tp"

    class Meta:
        model = ThirdPartyContract
        fields = [
            "line_of_business",
            "insurer_name",
            "annual_premium",
            "expected_commission",
            "ends_on",
            "note",
        ]
        widgets = {"ends_on": DateInput}
        error_messages = {
            "expected_commission": {"min_value": NOT_NEGATIVE},
            "annual_premium": {"min_value": NOT_NEGATIVE},
        }

    @property
    def data_for_service(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class PotentialAdjustmentForm(BootstrapFormMixin, forms.ModelForm):
    prefix = "adj"
    # Declared (not adjusted in __init__): BootstrapFormMixin validates a bound form while it
    # initialises.
    valid_from = forms.DateField(
        label=_("valid from"), required=False, widget=DateInput, help_text=_("Empty: today.")
    )

    class Meta:
        model = PotentialAdjustment
        fields = ["event", "reason", "amount", "valid_from", "expires_on"]
        widgets = {"expires_on": DateInput}

    def clean_expires_on(self):
        expires_on = self.cleaned_data["expires_on"]
        if expires_on and expires_on < timezone.localdate():
            raise forms.ValidationError(EXPIRY_IN_PAST)
        return expires_on

    def clean(self):
        data = super().clean()
        if not data.get("valid_from") and "valid_from" not in self.errors:
            data["valid_from"] = timezone.localdate()
        start, end = data.get("valid_from"), data.get("expires_on")
        if end and start and end < start:
            self.add_error("expires_on", _("The expiry must not lie before the start."))
        return data

    @property
    def data_for_service(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class ClassOverrideForm(BootstrapFormMixin, forms.Form):
    prefix = "ovr"

    segment = forms.ChoiceField(label=_("class"), choices=[(c, c) for c in CLASSES])
    reason = forms.CharField(label=_("reason"), max_length=300)
    expires_on = forms.DateField(label=_("until"), widget=DateInput)

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("An override needs a reason."))
        return reason

    def clean_expires_on(self):
        expires_on = self.cleaned_data["expires_on"]
        if expires_on < timezone.localdate():
            raise forms.ValidationError(EXPIRY_IN_PAST)
        return expires_on
