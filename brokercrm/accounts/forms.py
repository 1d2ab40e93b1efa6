from django import forms
from django.contrib.auth.forms import PasswordChangeForm as BasePasswordChangeForm

from brokercrm.forms import BootstrapFormMixin

from .models import User


class LanguageForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["language"]


class PasswordChangeForm(BootstrapFormMixin, BasePasswordChangeForm):
    pass
