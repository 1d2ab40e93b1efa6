from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers and contracts")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from .filters import KEPT_CHOICES

        # The filter forms' kept choices are read again after a change (customers.filters).
        for model, choices in KEPT_CHOICES.items():
            post_save.connect(choices.clear, sender=model, weak=False)
            post_delete.connect(choices.clear, sender=model, weak=False)
