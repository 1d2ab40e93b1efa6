"""Writes of the segmentation app: policy versions, rules, Fremdverträge, adjustments, overrides,
and the reclassification job.

The job (``reclassification_run`` in-process, ``reclassification_dispatch`` through Celery) is
set-based (see ``jobsql`` and README.md): one statement per run for every customer's revenue,
then a few statements per customer-id chunk, never a per-customer Python loop. A chunk's writes (customers, components, history, overrides, its
done-marker) commit together, so a run killed part-way and started again for the same as-of date
resumes the same run, skips the chunks already done, and ends in the state of an uninterrupted
run. A second run for the same as-of date changes nothing and writes no history rows.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from brokercrm.accounts.models import User
from brokercrm.parallel import run_each
from customers.models import Customer

from . import jobsql
from .models import (
    CLASSES,
    ClassChange,
    ClassOverride,
    PotentialAdjustment,
    ReclassificationRun,
    RecommendationRule,
    RunChunk,
    RunRule,
    RunStatus,
    SegmentationPolicy,
    ThirdPartyContract,
    threshold_band_cents,
)

logger = logging.getLogger(__name__)

# Customers per chunk: one transaction each; small enough that several workers share a run,
# large enough that the per-statement overhead does not matter.
CHUNK_SIZE = 10_000

# PostgreSQL work_mem for the one pass over the ledger (per hash node, x hash_mem_multiplier).
REVENUE_WORK_MEM = "256MB"
# A run's scratch rows (revenue and, for quantile/Pareto thresholds, figures per customer).
RUN_SCRATCH_TABLES = ("segmentation_runrevenue", "segmentation_runfigure")

Progress = Callable[[int, int], None]


class ReclassificationError(Exception):
    pass


class QueueUnavailable(Exception):
    """The broker (Redis) is configured but cannot be reached."""


# --- dates -------------------------------------------------------------------------------------


def months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29.02. in a common year
        return day.replace(year=day.year - years, day=28)


# --- policy and rules --------------------------------------------------------------------------


@transaction.atomic
def policy_publish(*, data: dict[str, Any], by: User | None) -> SegmentationPolicy:
    """Creates a new policy version from ``data`` and makes it the only active one."""
    current = list(SegmentationPolicy.objects.select_for_update().order_by("-version")[:1])
    version = current[0].version + 1 if current else 1
    policy = SegmentationPolicy(version=version, is_active=True, created_by=by, **data)
    # The check constraints back these rules; here they become messages at the field.
    from .forms import threshold_error

    errors = {}
    for prefix in ("revenue", "potential"):
        error = threshold_error(getattr(policy, f"{prefix}_method"), getattr(policy, f"{prefix}_value"))
        if error:
            errors[f"{prefix}_value"] = str(error)
    if errors:
        raise ValidationError(errors)
    policy.full_clean(exclude=["is_active"], validate_constraints=False)
    SegmentationPolicy.objects.filter(is_active=True).update(is_active=False)
    _audit(policy, by, reason=policy.note)
    policy.save()
    return policy


def policy_active() -> SegmentationPolicy:
    return SegmentationPolicy.objects.get(is_active=True)


def _audit(instance, by: User | None, reason: str = "") -> None:
    """Who the audit row (django-simple-history) names, and why; without `by`, the request's
    user (middleware)."""
    if by is not None:
        instance._history_user = by
    if reason:
        instance._change_reason = reason


@transaction.atomic
def recommendation_rule_save(*, rule: RecommendationRule, by: User | None = None) -> RecommendationRule:
    if rule.min_age is not None and rule.max_age is not None and rule.min_age > rule.max_age:
        # At the field, rather than the check constraint's generic message.
        raise ValidationError({"max_age": _("The maximum age must not be below the minimum age.")})
    rule.full_clean()
    _audit(rule, by)
    rule.save()
    return rule


# --- Fremdverträge and adjustments --------------------------------------------------------------


@transaction.atomic
def third_party_contract_create(
    *, customer: Customer, data: dict[str, Any], by: User | None
) -> ThirdPartyContract:
    contract = ThirdPartyContract(customer=customer, created_by=by, **data)
    contract.full_clean()
    contract.save()
    return contract


@transaction.atomic
def third_party_contract_delete(*, contract: ThirdPartyContract) -> None:
    contract.delete()


@transaction.atomic
def potential_adjustment_create(
    *, customer: Customer, data: dict[str, Any], by: User | None, today: dt.date | None = None
) -> PotentialAdjustment:
    today = today or timezone.localdate()
    adjustment = PotentialAdjustment(customer=customer, created_by=by, **data)
    if adjustment.valid_from is None:
        adjustment.valid_from = today
    errors = {}
    if not (adjustment.reason or "").strip():
        errors["reason"] = _("Give a reason.")
    if adjustment.expires_on and adjustment.expires_on < today:
        errors["expires_on"] = _("The expiry must not lie in the past.")
    if adjustment.expires_on and adjustment.valid_from and adjustment.expires_on < adjustment.valid_from:
        errors["expires_on"] = _("The expiry must not lie before the start.")
    if errors:
        raise ValidationError(errors)
    adjustment.full_clean()
    adjustment.save()
    return adjustment


@transaction.atomic
def potential_adjustment_delete(*, adjustment: PotentialAdjustment) -> None:
    adjustment.delete()


# --- overrides ---------------------------------------------------------------------------------


def _class_set(
    *,
    customer: Customer,
    new_class: str,
    computed: str,
    source: str,
    reason: str,
    day: dt.date,
) -> None:
    """Stores a manual class change on the customer and in the history (one row per day)."""
    old_class = customer.segment
    if old_class == new_class:
        return
    Customer.objects.filter(pk=customer.pk).update(
        segment=new_class, segment_since=day if new_class else None
    )
    customer.segment, customer.segment_since = new_class, (day if new_class else None)
    row = ClassChange.objects.select_for_update().filter(customer=customer, date=day).first()
    if row is not None:  # merge with the day's earlier change
        if row.old_class == new_class:
            row.delete()
            return
        row.new_class, row.computed_class, row.source, row.reason, row.run = (
            new_class,
            computed,
            source,
            reason,
            None,
        )
        row.revenue, row.potential, row.created_at = customer.revenue, customer.potential, timezone.now()
        row.save()
        return
    ClassChange.objects.create(
        customer=customer,
        date=day,
        old_class=old_class,
        new_class=new_class,
        computed_class=computed,
        revenue=customer.revenue,
        potential=customer.potential,
        policy=policy_active(),
        source=source,
        reason=reason,
        created_at=timezone.now(),
    )


@transaction.atomic
def class_override_set(
    *,
    customer: Customer,
    segment: str,
    reason: str,
    expires_on: dt.date,
    by: User | None,
    today: dt.date | None = None,
) -> ClassOverride:
    """Pins ``segment`` from today until ``expires_on`` (inclusive) and stores it on the customer
    at once. The computed class keeps being computed (``ClassOverride.computed_class``)."""
    today = today or timezone.localdate()
    errors = {}
    if segment not in CLASSES:
        errors["segment"] = _("Choose one of the classes A, B, C, O.")
    if not (reason or "").strip():
        errors["reason"] = _("An override needs a reason.")
    if expires_on is None:
        errors["expires_on"] = _("An override needs an expiry date.")
    elif expires_on < today:
        errors["expires_on"] = _("The expiry must not lie in the past.")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == Customer.Status.FORMER:
        errors["segment"] = _("Former customers are not classified.")
    if errors:
        raise ValidationError(errors)
    previous = ClassOverride.objects.select_for_update().open().filter(customer=customer).first()
    computed = previous.computed_class if previous else customer.segment
    if previous is not None:
        previous.ended_on = max(today, previous.starts_on)
        _audit(previous, by)
        previous.save(update_fields=["ended_on"])
    override = ClassOverride(
        customer=customer,
        segment=segment,
        reason=reason.strip(),
        starts_on=today,
        expires_on=expires_on,
        computed_class=computed,
        created_by=by,
    )
    _audit(override, by)
    override.save(force_insert=True)
    _class_set(
        customer=customer,
        new_class=segment,
        computed=computed,
        source=ClassChange.Source.OVERRIDE,
        reason=override.reason,
        day=today,
    )
    from brokercrm.jobs import after_class_change

    after_class_change(customer_ids=[customer.pk], day=today)
    return override


@transaction.atomic
def class_override_end(*, override: ClassOverride, by: User | None, today: dt.date | None = None) -> None:
    """Ends an override now; the customer returns to the computed class at once."""
    today = today or timezone.localdate()
    override = ClassOverride.objects.select_for_update().get(pk=override.pk)
    if override.ended_on is not None:
        return
    override.ended_on = max(today, override.starts_on)
    _audit(override, by)
    override.save(update_fields=["ended_on"])
    customer = Customer.objects.select_for_update().get(pk=override.customer_id)
    target = "" if customer.status == Customer.Status.FORMER else override.computed_class
    _class_set(
        customer=customer,
        new_class=target,
        computed=override.computed_class,
        source=ClassChange.Source.OVERRIDE_ENDED,
        reason="",
        day=today,
    )
    from brokercrm.jobs import after_class_change

    after_class_change(customer_ids=[customer.pk], day=today)


# --- the reclassification job ------------------------------------------------------------------


def _snapshot_rules(run: ReclassificationRun) -> None:
    rows = []
    for rule in RecommendationRule.objects.active().filter(expected_commission__gt=0):
        rows.append(
            RunRule(
                run=run,
                rule_id=rule.pk,
                line_of_business_id=rule.line_of_business_id,
                label=rule.name,
                value_cents=int(rule.expected_commission * 100),
                customer_kind=rule.customer_kind,
                born_on_or_before=years_before(run.as_of, rule.min_age) if rule.min_age is not None else None,
                born_after=years_before(run.as_of, rule.max_age + 1) if rule.max_age is not None else None,
                homeowner=rule.homeowner,
                car_owner=rule.car_owner,
                has_children=rule.has_children,
                occupations=f",{','.join(rule.occupations)}," if rule.occupations else "",
                marital_statuses=f",{','.join(rule.marital_statuses)}," if rule.marital_statuses else "",
                household_scope=rule.scope == RecommendationRule.Scope.HOUSEHOLD,
                per_car=rule.per_car,
            )
        )
    RunRule.objects.bulk_create(rows)


# Tables whose statistics the job's plans depend on.
_PLANNED_TABLES = (
    "customers_customer",
    "customers_contract",
    "customers_commissionbooking",
    "segmentation_thirdpartycontract",
    "segmentation_potentialadjustment",
    "segmentation_potentialcomponent",
    "segmentation_classchange",
)


def _refresh_statistics() -> None:
    """PostgreSQL: ANALYZE the tables the job reads whose statistics are missing or stale
    (more than 10 % of rows changed since), e.g. right after a large import or seed."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) AND ("
            "COALESCE(last_analyze, last_autoanalyze) IS NULL OR n_mod_since_analyze > 0.1 * GREATEST(n_live_tup, 1000))",
            [list(_PLANNED_TABLES)],
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"ANALYZE {table}")


def _abandon_other_unfinished_runs(as_of: dt.date) -> None:
    """An unfinished run of another day is not resumed any more once a new run starts: it is
    marked abandoned and its scratch rows go (its finished chunks' changes stay)."""
    stale = list(ReclassificationRun.objects.unfinished().exclude(as_of=as_of).values_list("pk", flat=True))
    if not stale:
        return
    ReclassificationRun.objects.filter(pk__in=stale).update(status=RunStatus.ABANDONED)
    with connection.cursor() as cursor:
        for table in RUN_SCRATCH_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE run_id IN ({', '.join(['%s'] * len(stale))})", stale)


def reclassification_start(
    *,
    as_of: dt.date,
    chunk_size: int = CHUNK_SIZE,
    by: User | None = None,
    trigger: str = ReclassificationRun.Trigger.SERVICE,
    resume: bool = True,
) -> ReclassificationRun:
    """Creates the run for ``as_of`` with its chunks, rule snapshot and (absolute) thresholds;
    or returns the unfinished run for that date, to be resumed."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    _refresh_statistics()
    with transaction.atomic():
        policy = SegmentationPolicy.objects.select_for_update().get(is_active=True)
        if resume:
            run = (
                ReclassificationRun.objects.select_for_update()
                .unfinished()
                .filter(as_of=as_of)
                .order_by("-id")
                .first()
            )
            if run is not None:
                if run.status != RunStatus.RUNNING:
                    run.status = RunStatus.RUNNING
                    run.save(update_fields=["status"])
                return run
        _abandon_other_unfinished_runs(as_of)
        now = timezone.now()
        run = ReclassificationRun.objects.create(
            as_of=as_of,
            policy=policy,
            two_pass=policy.needs_distribution,
            window_start=months_before(as_of, policy.revenue_window_months),
            chunk_size=chunk_size,
            started_at=now,
            trigger=trigger,
            triggered_by=by,
        )
        _snapshot_rules(run)
        if not run.two_pass:
            run.revenue_threshold = policy.revenue_value
            run.potential_threshold = policy.potential_value
            run.thresholds_at = now
        with connection.cursor() as cursor:
            bounds = jobsql.chunk_bounds(cursor, chunk_size)
        phases = (
            [RunChunk.Phase.FIGURES, RunChunk.Phase.CLASSIFY] if run.two_pass else [RunChunk.Phase.SINGLE]
        )
        RunChunk.objects.bulk_create(
            RunChunk(run=run, phase=phase, index=i, first_id=lo, last_id=hi)
            for phase in phases
            for i, (lo, hi) in enumerate(bounds)
        )
        run.save()
    return run


def _band_params(run: ReclassificationRun) -> dict[str, int]:
    margin = run.policy.hysteresis_percent
    rev = threshold_band_cents(run.revenue_threshold, margin)
    pot = threshold_band_cents(run.potential_threshold, margin)
    return {
        "rev_base": rev[0],
        "rev_stay": rev[1],
        "rev_enter": rev[2],
        "pot_base": pot[0],
        "pot_stay": pot[1],
        "pot_enter": pot[2],
    }


def reclassification_chunk_process(*, chunk_id: int) -> bool:
    """Processes one chunk atomically; False when it was already done (by another worker or
    before an interruption)."""
    with transaction.atomic():
        chunk = RunChunk.objects.select_for_update().get(pk=chunk_id)
        if chunk.done_at is not None:
            return False
        run = ReclassificationRun.objects.select_related("policy").get(pk=chunk.run_id)
        phase = chunk.phase
        if phase == RunChunk.Phase.CLASSIFY and run.thresholds_at is None:
            raise ReclassificationError(f"run {run.pk}: thresholds are not resolved yet")
        if phase != RunChunk.Phase.CLASSIFY and run.revenue_at is None:
            run = reclassification_revenue_compute(run_id=run.pk)
        with connection.cursor() as cursor:
            job = jobsql.ChunkJob(
                cursor,
                run_id=run.pk,
                policy_id=run.policy_id,
                as_of=run.as_of,
                window_start=run.window_start,
                lo=chunk.first_id,
                hi=chunk.last_id,
                bands=_band_params(run) if phase != RunChunk.Phase.FIGURES else None,
            )
            job.prepare()
            stats = jobsql.ChunkStats()
            if phase in (RunChunk.Phase.FIGURES, RunChunk.Phase.SINGLE):
                job.components()
            if phase == RunChunk.Phase.FIGURES:
                job.figures()
            else:
                job.classify(from_run=phase == RunChunk.Phase.CLASSIFY)
            if phase != RunChunk.Phase.FIGURES:
                stats = job.apply(now=timezone.now())
            if phase == RunChunk.Phase.CLASSIFY:
                job.drop_run_figures()
        chunk.done_at = timezone.now()
        chunk.customers = stats.customers
        chunk.changed = stats.changed
        chunk.figures_changed = stats.figures_changed
        chunk.overrides_active = stats.overrides_active
        chunk.overrides_ended = stats.overrides_ended
        chunk.transitions = stats.transitions
        chunk.save()
    return True


def reclassification_revenue_compute(*, run_id: int) -> ReclassificationRun:
    """Every customer's revenue for the run's window, in one statement over the ledger, before
    the chunks run. Idempotent (a resumed run keeps what it computed)."""
    with transaction.atomic():
        run = ReclassificationRun.objects.select_for_update().get(pk=run_id)
        if run.revenue_at is not None:
            return run
        ops = connection.ops
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # One hash join and aggregate over the ledger (a million customers' groups): with
                # the default work_mem (4 MB) both spill to disk in many batches.
                cursor.execute("SET LOCAL jit = off")
                cursor.execute(f"SET LOCAL work_mem = '{REVENUE_WORK_MEM}'")
            cursor.execute("DELETE FROM segmentation_runrevenue WHERE run_id = %s", [run.pk])
            cursor.execute(
                jobsql.REVENUE_SQL,
                {
                    "run": run.pk,
                    "as_of": ops.adapt_datefield_value(run.as_of),
                    "window_start": ops.adapt_datefield_value(run.window_start),
                },
            )
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE segmentation_runrevenue")
        run.revenue_at = timezone.now()
        run.save(update_fields=["revenue_at"])
    return run


def reclassification_thresholds_resolve(*, run_id: int) -> ReclassificationRun:
    """Resolves quantile/Pareto thresholds once, from the figures of phase 1 (window functions
    in SQL), and stores them on the run so every chunk of phase 2 agrees."""
    with transaction.atomic():
        run = ReclassificationRun.objects.select_for_update().select_related("policy").get(pk=run_id)
        if run.thresholds_at is not None:
            return run
        if run.chunks.filter(phase=RunChunk.Phase.FIGURES, done_at__isnull=True).exists():
            raise ReclassificationError(f"run {run.pk}: figures are not complete")
        policy = run.policy
        params = {"run": run.pk}
        with connection.cursor() as cursor:
            rev = jobsql.threshold_cents(
                cursor,
                jobsql.RUN_FIGURES_SOURCE,
                params,
                "revenue_cents",
                policy.revenue_method,
                policy.revenue_value,
            )
            pot = jobsql.threshold_cents(
                cursor,
                jobsql.RUN_FIGURES_SOURCE,
                params,
                "potential_cents",
                policy.potential_method,
                policy.potential_value,
            )
        run.revenue_threshold = Decimal(rev) / 100
        run.potential_threshold = Decimal(pot) / 100
        run.thresholds_at = timezone.now()
        run.save(update_fields=["revenue_threshold", "potential_threshold", "thresholds_at"])
    return run


def class_summary() -> dict[str, dict[str, Any]]:
    """Count, revenue and potential per class (key "" = not classified), in exact cents."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT segment, COUNT(*), COALESCE(SUM({jobsql.cents_sql('revenue')}), 0), "
            f"COALESCE(SUM({jobsql.cents_sql('potential')}), 0) FROM customers_customer GROUP BY segment"
        )
        rows = cursor.fetchall()
    cent = Decimal("0.01")
    return {
        segment: {
            "count": int(count),
            "revenue": str((Decimal(int(revenue)) / 100).quantize(cent)),
            "potential": str((Decimal(int(potential)) / 100).quantize(cent)),
        }
        for segment, count, revenue, potential in sorted(rows)
    }


def reclassification_finish(*, run_id: int) -> ReclassificationRun:
    """Adds up the chunks' counts and transitions, stores the class summary, marks the run
    finished. Idempotent."""
    with transaction.atomic():
        run = ReclassificationRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.FINISHED:
            return run
        if run.chunks.filter(done_at__isnull=True).exists():
            raise ReclassificationError(f"run {run.pk}: chunks are pending")
        transitions: dict[str, int] = {}
        totals = dict.fromkeys(
            ("customers", "changed", "figures_changed", "overrides_active", "overrides_ended"), 0
        )
        for chunk in run.chunks.exclude(phase=RunChunk.Phase.FIGURES).values(*totals, "transitions"):
            for key in totals:
                totals[key] += chunk[key]
            for key, count in chunk["transitions"].items():
                transitions[key] = transitions.get(key, 0) + count
        for key, value in totals.items():
            setattr(run, key, value)
        run.transitions = dict(sorted(transitions.items()))
        run.class_summary = class_summary()
        with connection.cursor() as cursor:
            for table in RUN_SCRATCH_TABLES:
                cursor.execute(f"DELETE FROM {table} WHERE run_id = %s", [run.pk])
        run.status = RunStatus.FINISHED
        run.finished_at = timezone.now()
        run.save()
    vacuum_run_scratch()
    if run.changed or run.figures_changed:
        vacuum_customers()
    return run


def vacuum_run_scratch() -> bool:
    """A run writes a revenue row per customer (and, for quantile or Pareto thresholds, a figures
    row) and deletes them when it finishes. On PostgreSQL the dead rows are vacuumed away at once,
    so the next run writes into reused pages instead of a table and index grown by every night
    before (autovacuum may not have come round; measured at 100k: the ledger pass and the chunks
    slowed by a third after eight runs). Returns whether it vacuumed (see `vacuum`)."""
    return vacuum(*RUN_SCRATCH_TABLES)


def vacuum_customers() -> bool:
    """Vacuums and analyzes the customer table after a run wrote customers (PostgreSQL, outside
    a transaction, as vacuum_run_scratch). Each customer written has a new row version, and
    until the table is vacuumed the customer list pays for them: its count lines, which read
    indexes alone, visit the table for every such customer (the visibility map), and every
    search reads the trigram indexes' pending entries (GIN "fast update") one by one. Measured
    at 1,000,000 customers after a night that wrote 79,496 of them: "Müller" listed in 28 ms
    instead of 3-5 ms, its count in 28 ms instead of 3 ms; the VACUUM took 8 s. Autovacuum
    would not come round for nights: it waits until a fifth of the table has changed. ANALYZE
    renews the statistics of the classes and figures the list's plans are chosen by."""
    return vacuum("customers_customer", analyze=True)


def vacuum(*tables: str, analyze: bool = False) -> bool:
    """VACUUM (and ANALYZE) these tables on PostgreSQL. VACUUM cannot run inside a transaction:
    inside one (a test, an outer atomic block) nothing happens. Returns whether it vacuumed."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    command = "VACUUM (ANALYZE)" if analyze else "VACUUM"
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{command} {table}")
    return True


def reclassification_fail(*, run_id: int, error: str) -> None:
    with transaction.atomic():
        run = ReclassificationRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.FINISHED:
            return
        run.status = RunStatus.FAILED
        run.errors = (run.errors + "\n" if run.errors else "") + error[:2000]
        run.save(update_fields=["status", "errors"])


def _process(run: ReclassificationRun, progress: Progress | None) -> None:
    chunks = run.chunks.order_by("phase", "index")
    total = chunks.count()
    done = chunks.filter(done_at__isnull=False).count()
    if progress:
        progress(done, total)
    reclassification_revenue_compute(run_id=run.pk)
    for phase in sorted(set(chunks.values_list("phase", flat=True))):
        if phase == RunChunk.Phase.CLASSIFY:
            reclassification_thresholds_resolve(run_id=run.pk)
        pending = list(chunks.filter(phase=phase, done_at__isnull=True).values_list("id", flat=True))
        for _chunk_id, _processed in run_each(_process_chunk, pending, thread_name_prefix="reclassify"):
            done += 1
            if progress:
                progress(done, total)


def _process_chunk(chunk_id: int) -> bool:
    return reclassification_chunk_process(chunk_id=chunk_id)


class _DryRunRollback(Exception):
    pass


_RESULT_FIELDS = (
    "as_of",
    "trigger",
    "triggered_by",
    "started_at",
    "policy",
    "two_pass",
    "window_start",
    "chunk_size",
    "revenue_threshold",
    "potential_threshold",
    "thresholds_at",
    "revenue_at",
    "customers",
    "changed",
    "figures_changed",
    "overrides_active",
    "overrides_ended",
    "transitions",
    "class_summary",
)


def reclassification_run(
    *,
    as_of: dt.date,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
    by: User | None = None,
    trigger: str = ReclassificationRun.Trigger.SERVICE,
    followup: bool = True,
) -> ReclassificationRun:
    """Reclassifies every customer as of ``as_of`` in this process and returns the finished run;
    the customers' new classes are stored when it returns. On PostgreSQL the chunks of a phase
    run on ``settings.JOB_CONNECTIONS`` connections at once (`brokercrm.parallel`).

    An unfinished run for the same date is resumed. A dry run computes everything inside one
    transaction that is rolled back, and keeps only its run record (status "dry_run").
    ``followup=False`` leaves out what follows a run (care planning and the dashboard snapshot,
    ``brokercrm.jobs.after_reclassification``), e.g. to time the reclassification alone."""
    if dry_run:
        result: dict[str, Any] = {}
        try:
            with transaction.atomic():
                run = reclassification_start(
                    as_of=as_of, chunk_size=chunk_size, by=by, trigger=trigger, resume=False
                )
                _process(run, progress)
                run = reclassification_finish(run_id=run.pk)
                result = {name: getattr(run, name) for name in _RESULT_FIELDS}
                raise _DryRunRollback
        except _DryRunRollback:
            pass
        return ReclassificationRun.objects.create(
            **result, status=RunStatus.DRY_RUN, finished_at=timezone.now()
        )
    run = reclassification_start(as_of=as_of, chunk_size=chunk_size, by=by, trigger=trigger)
    try:
        _process(run, progress)
        run = reclassification_finish(run_id=run.pk)
    except Exception as exc:
        reclassification_fail(run_id=run.pk, error=f"{type(exc).__name__}: {exc}")
        raise
    if followup:
        from brokercrm.jobs import after_reclassification

        after_reclassification(run_id=run.pk)
    return run


def runs_in_process() -> bool:
    """True when no broker is configured (Celery runs tasks eagerly, in this process)."""
    from brokercrm.celery import app

    return bool(app.conf.task_always_eager)


def reclassification_dispatch(
    *,
    as_of: dt.date,
    by: User | None = None,
    trigger: str = ReclassificationRun.Trigger.SCHEDULE,
    chunk_size: int = CHUNK_SIZE,
    followup: bool = True,
) -> ReclassificationRun:
    """Starts (or resumes) the run and hands its chunks to the Celery workers: a chord of chunk
    tasks (two chords for a two-pass run, with the thresholds between), then the finish task
    and, unless ``followup=False`` (see `reclassification_run`), the follow-up task.
    Without a broker, runs in-process."""
    if runs_in_process():
        return reclassification_run(
            as_of=as_of, by=by, trigger=trigger, chunk_size=chunk_size, followup=followup
        )
    run = reclassification_start(as_of=as_of, chunk_size=chunk_size, by=by, trigger=trigger)
    from . import tasks

    transaction.on_commit(lambda: tasks.workflow(run.pk, followup=followup).apply_async())
    return run


def _broker_unreachable(url: str) -> str | None:
    """A quick TCP check of a Redis broker, so the owner hears at once that it is down (the
    client would retry for several seconds first). None when reachable or not Redis."""
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url or "")
    if parsed.scheme not in ("redis", "rediss"):
        return None
    host, port = parsed.hostname or "localhost", parsed.port or 6379
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"
    return None


def reclassification_queue(*, as_of: dt.date, by: User | None) -> ReclassificationRun | None:
    """The owner's "run now": queues the job when a broker is configured (None is returned),
    else runs it here and returns the finished run. Raises QueueUnavailable when the broker is
    configured but unreachable."""
    if runs_in_process():
        return reclassification_run(as_of=as_of, by=by, trigger=ReclassificationRun.Trigger.OWNER)
    from kombu.exceptions import OperationalError
    from redis.exceptions import RedisError

    from . import tasks

    def publish() -> None:
        # The project's own app, not the task's `current_app` proxy: another app may have been
        # made current (a test worker), and its connection pool may be closed.
        from brokercrm.celery import app

        unreachable = _broker_unreachable(app.conf.broker_url)
        if unreachable:
            raise QueueUnavailable(unreachable)
        try:
            app.send_task(
                tasks.reclassify.name,
                kwargs={
                    "as_of": as_of.isoformat(),
                    "user_id": by.pk if by else None,
                    "trigger": ReclassificationRun.Trigger.OWNER,
                },
                retry=False,
            )
        except (OperationalError, RedisError, OSError, RuntimeError) as exc:
            raise QueueUnavailable(str(exc)) from exc

    transaction.on_commit(publish)
    return None
