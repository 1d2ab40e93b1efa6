"""What follows a reclassification, across apps: the segmentation app knows nothing of care
planning or dashboards, so the steps that follow a class change are wired here, once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable


def after_reclassification(*, run_id: int) -> None:
    """After a finished run: plan the care tasks of the new classes, then take the dashboard
    snapshot (so its care figures include the new tasks). Both steps are idempotent."""
    from dashboards.services import snapshot_take
    from segmentation.models import ReclassificationRun, RunStatus
    from servicelevels.services import care_tasks_plan

    run = ReclassificationRun.objects.get(pk=run_id)
    if run.status != RunStatus.FINISHED:
        return
    care_tasks_plan(as_of=run.as_of)
    snapshot_take(run=run)


def after_class_change(*, customer_ids: Iterable[int], day: dt.date) -> None:
    """After an override set or ended: re-plan those customers' care once the change commits."""
    from servicelevels.services import care_tasks_plan_enqueue

    care_tasks_plan_enqueue(as_of=day, customer_ids=customer_ids)


def after_consent_change(*, customer_id: int, channel: str, in_force: bool) -> None:
    """After a marketing consent is withdrawn or granted: the customer's open care tasks on that
    channel follow at once (a letter instead of a call or e-mail, and back)."""
    from servicelevels.services import care_tasks_follow_consent

    care_tasks_follow_consent(customer_id=customer_id, channel=channel, in_force=in_force)
