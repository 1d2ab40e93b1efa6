"""Forms of the office staff's daily work. Each rule puts its message at the field it is about;
the services check the same rules again before they write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorDict
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from brokercrm.accounts.models import User
from brokercrm.forms import BootstrapFormMixin, DateInput

from . import selectors, services
from .models import (
    Activity,
    CommissionBooking,
    Contract,
    Customer,
    LineOfBusiness,
    MarketingConsent,
    OfficeSettings,
)
from .validators import validate_postal_code

CUSTOMER_NOT_FOUND = _("There is no customer with number “%(number)s”.")


class CodeListInput(forms.TextInput):
    """A text input for a code, with the known codes offered as a datalist."""

    def render(self, name, value, attrs=None, renderer=None):
        attrs = {**(attrs or {})}
        list_id = f"{attrs.get('id') or name}_codes"
        attrs["list"] = list_id
        attrs.setdefault("autocomplete", "off")
        options = format_html_join(
            "", '<option value="{}">{}</option>', ((str(v), label) for v, label in self.choices if v)
        )
        return format_html(
            '{}<datalist id="{}">{}</datalist>',
            super().render(name, value, attrs, renderer),
            list_id,
            options,
        )


class SetupFieldsMixin:
    """Lets a form adjust its fields in `setup_fields` before anything validates.

    BootstrapFormMixin.__init__ asks for `errors` while the form is being built; without this,
    a bound form would be validated against its fields before they are adjusted (e.g. before a
    choice is limited to the customer's own contracts)."""

    _fields_ready = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_fields()
        self._fields_ready = True

    def setup_fields(self) -> None:
        pass

    @property
    def errors(self):
        if not self._fields_ready:
            return ErrorDict()
        return super().errors


class VersionedFormMixin:
    """Carries the version the user edits as a hidden field (optimistic locking)."""

    def setup_version(self) -> None:
        if self.instance.pk:
            self.fields["version"].required = True
            self.initial.setdefault("version", self.instance.version)
        else:
            del self.fields["version"]


class CustomerForm(SetupFieldsMixin, VersionedFormMixin, BootstrapFormMixin, forms.ModelForm):
    number = forms.CharField(
        label=_("customer number"),
        max_length=20,
        required=False,
        help_text=_("Leave empty to assign the next free number."),
    )
    household = forms.CharField(
        label=_("Same household as customer no."),
        max_length=20,
        required=False,
        help_text=_("Joins that customer's household."),
    )
    new_household = forms.CharField(label=_("or new household named"), max_length=200, required=False)
    leave_household = forms.BooleanField(label=_("Leave the current household"), required=False)
    referred_by = forms.CharField(label=_("Referred by customer no."), max_length=20, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Customer
        fields = [
            "number",
            "kind",
            "salutation",
            "title",
            "first_name",
            "name",
            "birth_date",
            "email",
            "phone",
            "street",
            "postal_code",
            "city",
            "country",
            "advisor",
            "status",
            "occupation",
            "marital_status",
            "homeowner",
            "cars",
            "children",
        ]
        widgets = {"birth_date": DateInput()}

    def setup_fields(self) -> None:
        self.fields["advisor"].queryset = User.objects.filter(is_active=True)
        self.setup_version()
        customer = self.instance
        if customer.pk:
            del self.fields["number"]
            if customer.referred_by_id:
                self.initial.setdefault("referred_by", customer.referred_by.number)
            if customer.household_id:
                self.fields["household"].help_text = _("Now in household “%(name)s”.") % {
                    "name": customer.household.name
                }
            else:
                del self.fields["leave_household"]
        else:
            del self.fields["leave_household"]

    FIELDSETS = [
        (_("Person or company"), ["kind", "salutation", "title", "first_name", "name", "birth_date"]),
        (_("Contact"), ["street", "postal_code", "city", "country", "email", "phone"]),
        (
            _("Care"),
            ["number", "advisor", "status", "referred_by", "household", "new_household", "leave_household"],
        ),
        (_("Needs profile"), ["occupation", "marital_status", "homeowner", "cars", "children"]),
    ]

    @property
    def fieldsets(self):
        """The visible fields grouped for display: (title, bound fields)."""
        return [
            (title, [self[name] for name in names if name in self.fields]) for title, names in self.FIELDSETS
        ]

    def clean_country(self) -> str:
        return (self.cleaned_data.get("country") or "").strip().upper()

    def _customer_by_number(self, field: str) -> Customer | None:
        number = self.cleaned_data.get(field) or ""
        if not number.strip():
            return None
        customer = selectors.customer_by_number(number)
        if customer is None:
            raise ValidationError(CUSTOMER_NOT_FOUND, code="not_found", params={"number": number})
        return customer

    def clean_referred_by(self) -> Customer | None:
        referrer = self._customer_by_number("referred_by")
        if referrer is not None and referrer.pk == self.instance.pk:
            raise ValidationError(services.SELF_REFERRAL, code="self_referral")
        return referrer

    def clean_household(self) -> Customer | None:
        member = self._customer_by_number("household")
        if member is not None and member.pk == self.instance.pk:
            raise ValidationError(_("Enter the number of another customer."), code="self")
        return member

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        postal_code, country = data.get("postal_code"), data.get("country")
        if postal_code is not None and country is not None:
            try:
                validate_postal_code(postal_code, country)
            except ValidationError as exc:
                self.add_error("postal_code", exc)
        if data.get("household") and data.get("new_household"):
            self.add_error(
                "new_household",
                ValidationError(_("Either name a customer to live with or a new household."), code="both"),
            )
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        kwargs: dict[str, Any] = {
            "data": {name: data[name] for name in services.CUSTOMER_FIELDS if name in data},
            "household_with": data.get("household"),
            "new_household": data.get("new_household", ""),
        }
        if self.instance.pk:
            kwargs["version"] = data["version"]
            kwargs["leave_household"] = data.get("leave_household", False)
        else:
            kwargs["number"] = data.get("number", "")
        return kwargs


class ContractForm(SetupFieldsMixin, VersionedFormMixin, BootstrapFormMixin, forms.ModelForm):
    line_of_business = forms.ModelChoiceField(
        label=_("Sparte (GDV code)"),
        queryset=LineOfBusiness.objects.only("code", "short_name"),
        to_field_name="code",
        widget=CodeListInput(attrs={"inputmode": "numeric", "placeholder": "041"}),
        error_messages={"invalid_choice": _("Unknown Sparte code “%(value)s”.")},
    )
    notice_period_months = forms.IntegerField(
        label=_("notice period (months)"),
        initial=3,
        min_value=0,
        max_value=12,
        error_messages={
            "min_value": _("The notice period lies between 0 and 12 months."),
            "max_value": _("The notice period lies between 0 and 12 months."),
        },
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Contract
        fields = [
            "insurer",
            "line_of_business",
            "policy_number",
            "status",
            "start_date",
            "end_date",
            "main_due_date",
            "notice_period_months",
            "payment_frequency",
            "annual_premium",
        ]
        widgets = {"start_date": DateInput(), "end_date": DateInput(), "main_due_date": DateInput()}
        localized_fields = ["annual_premium"]

    def setup_fields(self) -> None:
        self.setup_version()
        self.fields["main_due_date"].required = False
        self.fields["main_due_date"].help_text = _("Empty: the start date.")
        if self.instance.pk:
            self.initial["line_of_business"] = self.instance.line_of_business.code

    def clean_annual_premium(self):
        premium = self.cleaned_data.get("annual_premium")
        if premium is not None and premium < 0:
            raise ValidationError(_("The premium cannot be negative."), code="negative")
        return premium

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("main_due_date") and data.get("start_date"):
            data["main_due_date"] = data["start_date"]
        probe = Contract(
            pk=self.instance.pk,
            insurer=data.get("insurer"),
            policy_number=data.get("policy_number") or "",
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
        )
        for field, errors in services.contract_errors(probe).items():
            if field not in self.errors:
                self.add_error(field, errors)
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        kwargs: dict[str, Any] = {"data": {n: data[n] for n in services.CONTRACT_FIELDS if n in data}}
        if self.instance.pk:
            kwargs["version"] = data["version"]
        return kwargs


class BookingForm(SetupFieldsMixin, BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = CommissionBooking
        fields = ["contract", "booked_on", "kind", "amount", "statement_reference"]
        widgets = {"booked_on": DateInput()}
        localized_fields = ["amount"]

    def __init__(self, *args, customer: Customer, **kwargs):
        self.customer = customer
        super().__init__(*args, **kwargs)

    def setup_fields(self) -> None:
        contract = self.fields["contract"]
        contract.queryset = selectors.booking_contracts(customer=self.customer)
        contract.error_messages["invalid_choice"] = _("Choose one of this customer's contracts.")
        if not self.is_bound and not self.initial.get("contract"):
            only = list(contract.queryset[:2])
            if len(only) == 1:
                self.initial["contract"] = only[0].pk
        self.fields["amount"].help_text = _("Claw-backs (Storno) negative, everything else positive.")
        self.initial["booked_on"] = self.initial.get("booked_on") or timezone.localdate()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        probe = CommissionBooking(amount=data.get("amount"), kind=data.get("kind"))
        for field, errors in services.booking_errors(probe).items():
            if field not in self.errors:
                self.add_error(field, errors)
        return data


class ActivityForm(BootstrapFormMixin, forms.ModelForm):
    occurred_at = forms.DateTimeField(label=_("when"), required=False, help_text=_("Empty: now."))

    class Meta:
        model = Activity
        fields = ["kind", "occurred_at", "subject", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class ConsentForm(SetupFieldsMixin, BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = MarketingConsent
        fields = ["channel", "granted_on", "source", "wording"]
        widgets = {"granted_on": DateInput(), "wording": forms.Textarea(attrs={"rows": 3})}

    def setup_fields(self) -> None:
        self.initial["granted_on"] = self.initial.get("granted_on") or timezone.localdate()

    def validate_unique(self):
        # Granting again for a channel replaces the earlier consent (see services.consent_grant).
        pass


class ConsentWithdrawForm(SetupFieldsMixin, BootstrapFormMixin, forms.Form):
    withdrawn_on = forms.DateField(label=_("withdrawn on"), widget=DateInput())

    def setup_fields(self) -> None:
        self.initial["withdrawn_on"] = self.initial.get("withdrawn_on") or timezone.localdate()


class OfficeSettingsForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = OfficeSettings
        fields = ["staff_sees_own_customers_only"]
