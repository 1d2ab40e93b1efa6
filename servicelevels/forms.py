from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from brokercrm.forms import BootstrapFormMixin

from .models import CareActivity, CostSettings, ServiceLevel, Track

MINUTES_ERROR = _("Minutes must be more than 0.")
INTERVAL_ERROR = _("A recurrence every 0 months is not possible: give at least 1 month.")
RATE_ERROR = _("An hourly rate cannot be below 0 €.")


def _without_min_validators(field: forms.Field) -> None:
    """Drop the generic minimum validator so the field's clean method gives the clear message."""
    field.validators = [v for v in field.validators if not isinstance(v, MinValueValidator)]
    field.widget.attrs.pop("min", None)


def _fields_changed(form: forms.BaseForm) -> None:
    """BootstrapFormMixin validates a bound form inside __init__ (to mark invalid fields); after
    a subclass adjusts its fields, the form must validate again with them."""
    form._errors = None
    for field in form.fields.values():
        attrs = field.widget.attrs
        attrs.pop("aria-invalid", None)
        if "class" in attrs:
            attrs["class"] = " ".join(c for c in attrs["class"].split() if c != "is-invalid")


class WorklistFilterForm(BootstrapFormMixin, forms.Form):
    segment = forms.ChoiceField(
        label=_("Class"), required=False, choices=[("", _("all classes"))] + [(c, c) for c in "ABCO"]
    )
    track = forms.ChoiceField(
        label=_("Track"), required=False, choices=[("", _("both tracks")), *Track.choices]
    )
    activity = forms.ModelChoiceField(
        label=_("Activity"),
        required=False,
        queryset=CareActivity.objects.none(),
        empty_label=_("all activities"),
    )
    assignee = forms.ChoiceField(label=_("Person"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["activity"].queryset = CareActivity.objects.filter(active=True).select_related(
            "service_level"
        )
        self.fields["activity"].label_from_instance = lambda a: f"{a.service_level.segment}: {a.name}"
        if user.is_owner:
            users = (
                get_user_model()
                .objects.filter(is_active=True)
                .order_by("last_name", "first_name", "username")
            )
            self.fields["assignee"].choices = [
                ("", _("my tasks")),
                ("all", _("everyone")),
                *((str(u.pk), str(u)) for u in users),
            ]
        else:
            del self.fields["assignee"]
        _fields_changed(self)


class TaskCloseForm(BootstrapFormMixin, forms.Form):
    ACTIONS = [("done", _("Done")), ("skip", _("Skip"))]

    action = forms.ChoiceField(choices=ACTIONS, initial="done")
    outcome = forms.CharField(
        label=_("Outcome"),
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": _("Outcome note")}),
    )


class CareActivityForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = CareActivity
        fields = [
            "service_level",
            "name",
            "track",
            "recurrence",
            "interval_months",
            "weeks_before",
            "days_after",
            "min_gap_value",
            "biggest_gap_only",
            "channel",
            "marketing",
            "minutes",
            "performer",
            "instruction",
            "active",
            "position",
        ]
        localized_fields = ["min_gap_value"]
        widgets = {"instruction": forms.Textarea(attrs={"rows": 3})}
        error_messages = {
            "service_level": {"required": _("Choose the class this activity belongs to.")},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _without_min_validators(self.fields["minutes"])
        _without_min_validators(self.fields["interval_months"])
        self.fields["service_level"].empty_label = _("choose a class")
        _fields_changed(self)

    def clean_minutes(self):
        minutes = self.cleaned_data.get("minutes")
        if minutes is not None and minutes <= 0:
            raise forms.ValidationError(MINUTES_ERROR)
        return minutes

    def clean_interval_months(self):
        months = self.cleaned_data.get("interval_months")
        if months is not None and months <= 0:
            raise forms.ValidationError(INTERVAL_ERROR)
        return months


class MinutesForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = CareActivity
        fields = ["minutes"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _without_min_validators(self.fields["minutes"])
        self.fields["minutes"].widget.attrs.update({"class": "form-control form-control-sm minutes-input"})
        _fields_changed(self)

    def clean_minutes(self):
        minutes = self.cleaned_data.get("minutes")
        if minutes is not None and minutes <= 0:
            raise forms.ValidationError(MINUTES_ERROR)
        return minutes


class ServiceLevelForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = ServiceLevel
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}


class CostSettingsForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = CostSettings
        fields = ["owner_hourly_rate", "staff_hourly_rate", "max_cost_share", "assumed_years_in_class"]
        localized_fields = fields

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("owner_hourly_rate", "staff_hourly_rate"):
            _without_min_validators(self.fields[name])
        _fields_changed(self)

    def _rate(self, name: str):
        value = self.cleaned_data.get(name)
        if value is not None and value < 0:
            raise forms.ValidationError(RATE_ERROR)
        return value

    def clean_owner_hourly_rate(self):
        return self._rate("owner_hourly_rate")

    def clean_staff_hourly_rate(self):
        return self._rate("staff_hourly_rate")


class CapacityForm(BootstrapFormMixin, forms.Form):
    minutes_per_week = forms.IntegerField(
        label=_("Capacity (minutes per week)"),
        min_value=0,
        validators=[MaxValueValidator(7 * 24 * 60)],
        widget=forms.NumberInput(attrs={"class": "form-control-sm", "style": "width: 7em"}),
    )
