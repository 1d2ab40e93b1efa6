from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q


class RecommendationRuleQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class PotentialAdjustmentQuerySet(models.QuerySet):
    def active_on(self, day: dt.date):
        return self.filter(valid_from__lte=day, expires_on__gte=day)


class ClassOverrideQuerySet(models.QuerySet):
    def open(self):
        return self.filter(ended_on__isnull=True)

    def active_on(self, day: dt.date):
        return self.open().filter(starts_on__lte=day, expires_on__gte=day)


class ReclassificationRunQuerySet(models.QuerySet):
    def real(self):
        """Runs that wrote their results (not dry runs)."""
        return self.exclude(status="dry_run")

    def finished(self):
        return self.filter(status="finished")

    def unfinished(self):
        return self.filter(Q(status="running") | Q(status="failed"))

    def latest_finished(self):
        return self.finished().order_by("-finished_at", "-id").first()
