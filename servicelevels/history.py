"""The audit trail of the service-level catalogue for the catalogue page: service levels, care
activities and the cost settings (hourly rates), read through ``customers.history``
(django-simple-history rows, written by the saves of the catalogue's forms and services).
Planning writes none of these rows."""

from __future__ import annotations

from customers.history import HISTORY_LIMIT, HistoryEntry, HistorySource, history_entries

from .models import CareActivity, CostSettings, ServiceLevel


def catalogue_history(*, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """Who changed which service level, activity or cost setting when, old → new; newest first."""
    return history_entries(
        [
            HistorySource(
                ServiceLevel.history.all(),
                lambda r: f"{ServiceLevel._meta.verbose_name} {r.segment}: {r.name}",
            ),
            HistorySource(
                CareActivity.history.all(), lambda r: f"{CareActivity._meta.verbose_name}: {r.name}"
            ),
            HistorySource(CostSettings.history.all(), lambda r: str(CostSettings._meta.verbose_name)),
        ],
        limit=limit,
    )
