"""Celery task: plans care tasks on a worker. Loads plain ids and an ISO date, calls the service."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from celery import shared_task
from django.utils import timezone

from .services import care_tasks_plan

# A full pass over a 1M-customer book takes minutes on PostgreSQL (a nightly, incremental run
# seconds); the limits stop a stuck run.
PLAN_SOFT_TIME_LIMIT = 50 * 60
PLAN_TIME_LIMIT = 55 * 60


@shared_task(
    name="servicelevels.plan_care_tasks",
    soft_time_limit=PLAN_SOFT_TIME_LIMIT,
    time_limit=PLAN_TIME_LIMIT,
    acks_late=True,
)
def plan_care_tasks(as_of: str | None = None, customer_ids: list[int] | None = None) -> dict:
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    return asdict(care_tasks_plan(as_of=day, customer_ids=customer_ids))
