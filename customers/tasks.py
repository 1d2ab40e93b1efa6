"""Celery tasks of the customers app. Each loads nothing but calls a service.

The schedule lives in django-celery-beat's tables (the whole schedule: README "Production
shape"); ``purge_retention`` runs daily at 03:30 Europe/Berlin, created by the data migration
``0005_purge_retention_schedule`` and editable in the admin."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from .privacy import retention_purge

# The purge is set-based (a few statements per 1,000 customers); the limits stop a runaway.
PURGE_SOFT_LIMIT, PURGE_HARD_LIMIT = 30 * 60, 32 * 60


@shared_task(soft_time_limit=PURGE_SOFT_LIMIT, time_limit=PURGE_HARD_LIMIT, ignore_result=True)
def purge_retention() -> int:
    """Delete the restricted data (after erasure requests) whose retention has passed by today
    (Europe/Berlin), see `customers.privacy.retention_purge`. Running it twice a day deletes
    nothing more. Returns the number of rows deleted (bookings, contracts, consents, customers)."""
    return retention_purge(as_of=timezone.localdate()).total
