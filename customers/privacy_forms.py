"""Forms of the data protection pages (owner only): an access request answered with the export,
and an erasure request."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from brokercrm.forms import BootstrapFormMixin, DateInput

from .models import Customer
from .validators import validate_not_future


class AccessRequestForm(BootstrapFormMixin, forms.Form):
    received_on = forms.DateField(
        label=_("request received on"),
        widget=DateInput(),
        validators=[validate_not_future],
        help_text=_("The answer is due within a month (Art. 12(3) GDPR)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("received_on", timezone.localdate())


class ErasureRequestForm(BootstrapFormMixin, forms.Form):
    received_on = forms.DateField(
        label=_("request received on"), widget=DateInput(), validators=[validate_not_future]
    )
    reason = forms.CharField(
        label=_("reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("E.g. the customer's letter of 12.03.2026 asking for erasure."),
    )
    confirm_number = forms.CharField(
        label=_("customer number, to confirm"),
        max_length=20,
        help_text=_("Erasure cannot be undone."),
    )

    def __init__(self, *args, customer: Customer, **kwargs):
        self.customer = customer
        super().__init__(*args, **kwargs)
        self.initial.setdefault("received_on", timezone.localdate())

    def clean_confirm_number(self) -> str:
        number = self.cleaned_data["confirm_number"].strip()
        if number.upper() != self.customer.number.upper():
            raise ValidationError(
                _("Type the customer number %(number)s to confirm."),
                code="mismatch",
                params={"number": self.customer.number},
            )
        return number
