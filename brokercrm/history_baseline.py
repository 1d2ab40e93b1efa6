"""Data-migration helper: the first audit row ("+") of every row that existed before its
table was audited, so the first edit afterwards shows old → new (and a new policy version is
compared with the one before). Idempotent: rows that have an audit row are left alone."""

from __future__ import annotations

from django.utils import timezone

BASELINE_REASON = "Stand bei Beginn der Änderungshistorie"


def baseline(apps, app_label: str, model_names: list[str], batch: int = 2000) -> None:
    now = timezone.now()
    for name in model_names:
        model = apps.get_model(app_label, name)
        history = apps.get_model(app_label, f"Historical{name}")
        fields = [f.attname for f in model._meta.concrete_fields]
        audited = history.objects.values("id")
        rows = [
            history(
                **{attname: getattr(obj, attname) for attname in fields},
                history_date=now,
                history_type="+",
                history_change_reason=BASELINE_REASON,
            )
            for obj in model.objects.exclude(pk__in=audited).iterator(chunk_size=batch)
        ]
        history.objects.bulk_create(rows, batch_size=batch)
