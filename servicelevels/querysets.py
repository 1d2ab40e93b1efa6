from __future__ import annotations

from django.db import models
from django.db.models import Q


class CareTaskQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status="open")

    def usable(self):
        """Tasks of customers that may be worked with: not under an Art. 18 restriction
        (`Customer.objects.usable()`). Planning cancels the open tasks of a restricted customer;
        until it runs, the worklists leave them out."""
        return self.filter(customer__restricted_at__isnull=True)

    def closed(self):
        return self.filter(status__in=["done", "skipped"])

    def assigned_to(self, user):
        """The user's tasks and the unassigned ones (no advisor and no owner to fall back to)."""
        return self.filter(Q(assignee=user) | Q(assignee__isnull=True))

    def in_class(self, *classes: str):
        return self.filter(customer__segment__in=classes)

    def with_related(self):
        return self.select_related(
            "customer", "activity", "activity__service_level", "contract", "line_of_business", "assignee"
        )
