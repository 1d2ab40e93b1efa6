"""Panels other apps add to the customer page, each loaded lazily by htmx from its own URL.

An entry is (URL name taking the customer's `pk`, title). A panel whose app does not provide the
URL is left out, so the customer page works with any subset of the apps.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

CUSTOMER_PANELS = [
    ("segmentation:customer_panel", _("Classification")),
    ("servicelevels:customer_tasks", _("Care tasks")),
    ("customers:history_panel", _("Change history")),
]


@dataclass(frozen=True)
class Panel:
    title: str
    url: str


def customer_panels(customer) -> list[Panel]:
    panels = []
    for url_name, title in CUSTOMER_PANELS:
        try:
            url = reverse(url_name, kwargs={"pk": customer.pk})
        except NoReverseMatch:
            continue
        panels.append(Panel(title=str(title), url=url))
    return panels
