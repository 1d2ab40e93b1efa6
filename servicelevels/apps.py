from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServicelevelsConfig(AppConfig):
    name = "servicelevels"
    verbose_name = _("Service levels")
