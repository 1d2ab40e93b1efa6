from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers and contracts")

    def ready(self):
        from brokercrm import kept

        from . import filters, querysets, selectors  # noqa: F401  (they register what they keep)

        kept.connect()
