"""Shared form behaviour: Bootstrap classes and the field error marking."""

from django import forms


class BootstrapFormMixin:
    """Adds Bootstrap 5 classes to every widget, and `is-invalid` to fields with errors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            elif isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
                continue
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
                    widget.attrs["aria-invalid"] = "true"


class DateInput(forms.DateInput):
    """A text date input in the active locale's format (31.12.2026); the browser's date
    picker would force ISO input on some systems."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"placeholder": "TT.MM.JJJJ", "inputmode": "numeric", **(attrs or {})})
